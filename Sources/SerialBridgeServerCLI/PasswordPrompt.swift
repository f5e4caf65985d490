#if canImport(Glibc)
import Glibc
#endif

/// Reads a password from standard input: at a terminal, asks twice on standard error with echo
/// off; from a pipe, takes the first line (`printf '%s\n' "$PASSWORD" | serialbridge-server users add …`).
enum PasswordPrompt {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func read(for user: String) throws(Failure) -> String {
        guard isatty(STDIN_FILENO) == 1 else {
            guard let line = readLine(strippingNewline: true) else { throw Failure(description: "no password on standard input") }
            return line.hasSuffix("\r") ? String(line.dropLast()) : line
        }
        let first = try readHidden(prompt: "Password for \(user): ")
        let second = try readHidden(prompt: "Again: ")
        guard first == second else { throw Failure(description: "the two passwords differ") }
        return first
    }

    private static func readHidden(prompt: String) throws(Failure) -> String {
        writeError(prompt)
        var saved = termios()
        let canHide = tcgetattr(STDIN_FILENO, &saved) == 0
        if canHide {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        }
        let line = readLine(strippingNewline: true)
        if canHide { tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved) }
        writeError("\n")
        guard let line else { throw Failure(description: "no password entered") }
        return line
    }
}
