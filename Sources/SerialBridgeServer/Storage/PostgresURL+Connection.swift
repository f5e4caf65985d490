import NIOSSL
import PostgresNIO

extension PostgresURL {
    /// Settings for one postgres-nio connection to this URL (the storage's migrations, the cluster
    /// bus's LISTEN and write connections); TLS as the URL's `sslmode` says.
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch self.tls {
        case .disable: tls = .disable
        case .prefer: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database, tls: tls
        )
        configuration.options.connectTimeout = .seconds(10)
        return configuration
    }
}
