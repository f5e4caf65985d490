import GRDB
import GRDBSQLite

/// Runs a prepared GRDB statement with arguments bound through SQLite's C API: no
/// `StatementArguments` of existential values, which cost the readings insert (run once per
/// reading, 100,000 times a second flat out) a third of its time in boxing and generic metadata.
/// For statements that return no rows.
struct SQLiteStatementBinder {
    /// Binds one statement's parameters (1-based indexes).
    struct Binder {
        fileprivate let handle: OpaquePointer
        fileprivate var failure: Int32 = SQLITE_OK

        /// Binds text (NULL for nil); SQLite copies it.
        mutating func text(_ index: Int32, _ value: String?) {
            guard var text = value else { return record(sqlite3_bind_null(handle, index)) }
            let handle = self.handle
            let code = text.withUTF8 { bytes in
                bytes.withMemoryRebound(to: CChar.self) { chars in
                    // An empty buffer may have no address.
                    guard let address = chars.baseAddress else { return sqlite3_bind_text(handle, index, "", 0, Self.transient) }
                    return sqlite3_bind_text(handle, index, address, Int32(chars.count), Self.transient)
                }
            }
            record(code)
        }

        /// Binds a 64-bit integer.
        mutating func integer(_ index: Int32, _ value: Int64) {
            record(sqlite3_bind_int64(handle, index, value))
        }

        private mutating func record(_ code: Int32) {
            if failure == SQLITE_OK, code != SQLITE_OK { failure = code }
        }

        /// SQLITE_TRANSIENT: SQLite makes its own copy of the bytes before the call returns.
        private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
    }

    private let statement: Statement

    init(_ statement: Statement) {
        self.statement = statement
    }

    /// Resets the statement, binds with `bind`, and steps it to completion.
    /// - Throws: `DatabaseError` with SQLite's code and message.
    func execute(_ db: Database, _ bind: (inout Binder) -> Void) throws {
        let handle = statement.sqliteStatement
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        var binder = Binder(handle: handle)
        bind(&binder)
        let code = binder.failure == SQLITE_OK ? sqlite3_step(handle) : binder.failure
        defer { sqlite3_reset(handle) }
        guard code == SQLITE_DONE else {
            throw DatabaseError(
                resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)),
                sql: statement.sql
            )
        }
    }
}
