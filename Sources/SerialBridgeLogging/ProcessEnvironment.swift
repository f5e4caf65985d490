#if canImport(Glibc)
import Glibc
#endif

/// The process environment as a dictionary, read once at start by the command-line programs and
/// passed down: the libraries take the environment as a value, so tests never touch the process's.
public enum ProcessEnvironment {
    /// Every `NAME=value` of `environ`; the first of duplicate names wins, as `getenv` does.
    public static func current() -> [String: String] {
        var result: [String: String] = [:]
        var cursor: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                let name = String(text[..<equals])
                if result[name] == nil { result[name] = String(text[text.index(after: equals)...]) }
            }
            cursor += 1
        }
        return result
    }
}
