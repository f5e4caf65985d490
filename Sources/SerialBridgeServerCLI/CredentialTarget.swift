import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import SerialBridgeServer

/// Where `tokens …` and `users …` act: a file (`--tokens FILE`, `--users FILE`: SQLite, one server)
/// or a PostgreSQL database (`--database URL`, or SERIALBRIDGE_DATABASE when no file is named: the
/// tables every instance reads).
enum CredentialTarget {
    case file(String)
    case database(PostgresURL)

    /// Resolves the flags; `fileFlag` names the file option for messages.
    static func resolve(file: String?, database: String?, fileFlag: String) throws -> CredentialTarget {
        let environment = getenv("SERIALBRIDGE_DATABASE").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        switch (file, database ?? (file == nil ? environment : nil)) {
        case (let file?, nil): return .file(file)
        case (nil, let url?):
            do {
                guard case .postgres(let parsed) = try ServerDatabase(parsing: url) else {
                    throw ValidationError("--database must be a postgres:// URL (with SQLite the credentials are in \(fileFlag) FILE)")
                }
                return .database(parsed)
            } catch let error as PostgresURLError {
                throw ValidationError("--database: \(error)")
            }
        case (nil, nil): throw ValidationError("name where: \(fileFlag) FILE, or --database postgres://… (or SERIALBRIDGE_DATABASE)")
        case (_?, _?): throw ValidationError("\(fileFlag) and --database both name where; use one")
        }
    }
}

/// Runs async `body`; a ``ServerConfigError`` becomes a clean message and exit status 1.
func fail<T>(_ body: () async throws(ServerConfigError) -> T) async throws -> T {
    do {
        return try await body()
    } catch {
        printError("error: \(error)")
        throw ExitCode(1)
    }
}
