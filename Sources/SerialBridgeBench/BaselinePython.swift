import ArgumentParser
import Foundation

/// The Python interpreter the baseline runs on, with its two PyPI packages installed.
enum BaselinePython {
    /// What the baseline imports, as pip requirements (pinned: the comparison should not move
    /// with a new release).
    static let requirements = ["pyserial-asyncio==0.6", "websockets==17.4"]

    /// Installs the requirements with pip when `python` cannot import them, and returns the
    /// interpreter's real path (not a pyenv shim: the measured process must be Python itself).
    static func prepare(_ python: String) throws -> String {
        if (try? run(python, ["-c", "import serial_asyncio, websockets"])) == nil {
            FileHandle.standardError.write(Data("e2e: installing \(requirements.joined(separator: " ")) with pip\n".utf8))
            do {
                _ = try run(python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + requirements)
            } catch {
                throw ValidationError("""
                    the baseline needs \(requirements.joined(separator: " ")) and pip could not install them: \(error)
                    (install them, or run with --no-baseline)
                    """)
            }
        }
        return try run(python, ["-c", "import sys; print(sys.executable)"]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs a command found on PATH; returns its standard output, throws on a non-zero exit.
    private static func run(_ command: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [command] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("\(command) \(arguments.joined(separator: " ")) exited \(process.terminationStatus): \(errorText.suffix(500))")
        }
        return String(decoding: data, as: UTF8.self)
    }
}
