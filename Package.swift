// swift-tools-version: 6.1
import PackageDescription

/// Every module is built in Swift 6 language mode with strict concurrency.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "SerialBridge",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "serialbridge", targets: ["SerialBridgeCLI"]),
        .executable(name: "serialbridge-server", targets: ["SerialBridgeServerCLI"]),
        .executable(name: "serialbridge-bench", targets: ["SerialBridgeBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // No default traits: `FullFoundation` makes Hummingbird import full Foundation (and with it ICU,
        // ~39 MB mapped into the gateway) for one URL-encoded-form date strategy we do not use;
        // `ConfigurationSupport` links swift-configuration, which we do not use either.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.1"),
        // Bcrypt for people's passwords (htpasswd `$2y$`/`$2b$` hashes).
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        // Up to the next minor only: the uplink's own client channel (UplinkSocket) uses WSCore's
        // `WSInternal` SPI (`WebSocketHandler.handle`), which may change in a minor release.
        .package(url: "https://github.com/hummingbird-project/swift-websocket.git", .upToNextMinor(from: "1.6.2")),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        // Metrics endpoints of gateway and server: swift-metrics' API, served in Prometheus text format.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Scale-out storage: several server instances on one PostgreSQL (docs/DEPLOYMENT.md).
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // Bench only: latency percentiles of the end-to-end benchmark.
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        // Tests only: a CA and certificates generated in the TLS tests.
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
    ],
    targets: [
        // C shims for what Glibc does not expose to Swift: pseudo-terminals and termios2 baud rates.
        .target(name: "CSerialSupport"),
        // CRC-32 by carry-less multiplication (PCLMULQDQ) for the spool's records; a table does the rest.
        .target(name: "CCRC32"),
        // libudev: tty enumeration, USB parent sysattrs and the netlink monitor.
        .systemLibrary(name: "CUdev", pkgConfig: "libudev", providers: [.apt(["libudev-dev"])]),
        // Serial devices as libudev sees them: enumeration, derived USB properties, stable ids, the watcher.
        .target(
            name: "SerialBridgeDevices",
            dependencies: ["CUdev", "SerialBridgeProfiles"],
            swiftSettings: strictSettings
        ),
        // termios serial ports and pseudo-terminals.
        .target(
            name: "SerialBridgeSerial",
            dependencies: ["CSerialSupport"],
            swiftSettings: strictSettings
        ),
        // JSON: a strict parser, a deterministic writer, and path-tracking validation of config files.
        .target(name: "SerialBridgeJSON", swiftSettings: strictSettings),
        // Bytes → frames → checked frames → values. Knows nothing of ports or networks.
        .target(name: "SerialBridgeParsing", dependencies: ["SerialBridgeJSON"], swiftSettings: strictSettings),
        // Devices that must be asked: polling, Modbus RTU, commands, and the scheduler of a shared line.
        .target(name: "SerialBridgePolling", dependencies: ["SerialBridgeParsing", "SerialBridgeJSON"], swiftSettings: strictSettings),
        // Device profiles: model, loader, validation, matching.
        .target(
            name: "SerialBridgeProfiles",
            dependencies: ["SerialBridgeSerial", "SerialBridgeParsing", "SerialBridgePolling", "SerialBridgeJSON"],
            swiftSettings: strictSettings
        ),
        // Log lines of both programs: text for a terminal, journald priority prefixes, JSON lines.
        .target(
            name: "SerialBridgeLogging",
            dependencies: ["SerialBridgeJSON", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        // The wire protocol shared by gateway and server. Knows nothing of serial ports.
        .target(name: "SerialBridgeProtocol", dependencies: ["SerialBridgeJSON"], swiftSettings: strictSettings),
        // The durable store-and-forward spool: segment files, group commit, retention, send cursor.
        .target(
            name: "SerialBridgeSpool",
            dependencies: [
                "SerialBridgeProtocol", "SerialBridgeJSON", "CCRC32",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The service manager: sd_notify datagrams (no libsystemd) and the watchdog's health checks.
        .target(
            name: "SerialBridgeSystemd",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // SHA-256 of pinned keys with swift-nio-ssl's BoringSSL: swift-crypto, for this one digest, linked
        // a second BoringSSL into the gateway (2 MiB of its binary; docs/RELEASE.md, Footprint).
        .target(
            name: "CNIOSSLDigest",
            dependencies: [.product(name: "NIOSSL", package: "swift-nio-ssl")]
        ),
        // The WebSocket uplink: connection, reconnect with backoff, acknowledgements.
        .target(
            name: "SerialBridgeUplink",
            dependencies: [
                "SerialBridgeProtocol", "SerialBridgeSpool", "CNIOSSLDigest",
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "WSCore", package: "swift-websocket"),
                .product(name: "WSCompression", package: "swift-websocket"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // The gateway: config, epoch store, device sessions, composition.
        .target(
            name: "SerialBridgeGateway",
            dependencies: [
                "SerialBridgeSerial", "SerialBridgeProfiles", "SerialBridgeParsing", "SerialBridgePolling", "SerialBridgeJSON",
                "SerialBridgeProtocol", "SerialBridgeUplink", "SerialBridgeDevices", "SerialBridgeSpool", "SerialBridgeSystemd",
                "SerialBridgeLogging",
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // The metrics endpoint: a small HTTP/1 server (not Hummingbird, which would add its
                // dependencies' code to the gateway's resident memory for three GET routes).
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // A profile played as a virtual device on a pseudo-terminal.
        .target(
            name: "SerialBridgeSimulator",
            dependencies: [
                "SerialBridgeSerial", "SerialBridgeProfiles", "SerialBridgeParsing", "SerialBridgePolling", "SerialBridgeJSON",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // The cloud side: ingest, storage, API, dashboard.
        .target(
            name: "SerialBridgeServer",
            dependencies: [
                "SerialBridgeProtocol", "SerialBridgeJSON",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSCompression", package: "hummingbird-websocket"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "GRDB", package: "GRDB.swift"),
                // The readings insert binds its nine columns with the C API (SQLiteStatementBinder).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            // The dashboard's HTML, CSS and JavaScript, compiled into the binary (DashboardAssets.swift).
            resources: [.embedInCode("Dashboard")],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "SerialBridgeCLI",
            dependencies: [
                "SerialBridgeGateway", "SerialBridgeSimulator", "SerialBridgeProfiles", "SerialBridgeParsing",
                "SerialBridgeJSON", "SerialBridgeProtocol",
                "SerialBridgeDevices", "SerialBridgeSpool", "SerialBridgeLogging",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "SerialBridgeServerCLI",
            dependencies: [
                "SerialBridgeServer", "SerialBridgeSystemd", "SerialBridgeLogging",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // Fuzz targets shared by the long-run command and the test suite's seeded smoke pass.
        .target(
            name: "SerialBridgeFuzzing",
            dependencies: ["SerialBridgeParsing", "SerialBridgePolling", "SerialBridgeProfiles", "SerialBridgeSimulator", "SerialBridgeProtocol", "SerialBridgeJSON"],
            swiftSettings: strictSettings
        ),
        // libFuzzer entry point; built only by scripts/fuzz.sh (it has no main of its own).
        .executableTarget(
            name: "SerialBridgeFuzzer",
            dependencies: ["SerialBridgeParsing", "SerialBridgeProfiles", "SerialBridgeProtocol", "SerialBridgeJSON"],
            swiftSettings: strictSettings + [.unsafeFlags(["-parse-as-library"])]
        ),
        // Benchmarks and long fuzz runs: separate commands, never part of the test suite.
        .executableTarget(
            name: "SerialBridgeBench",
            dependencies: [
                "SerialBridgeParsing", "SerialBridgeProfiles", "SerialBridgeSimulator", "SerialBridgeProtocol",
                "SerialBridgeJSON", "SerialBridgeFuzzing", "SerialBridgeSpool", "SerialBridgeUplink", "SerialBridgeServer",
                "SerialBridgePolling",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "SerialBridgeTests",
            dependencies: [
                "SerialBridgeSerial", "SerialBridgeProfiles", "SerialBridgeParsing", "SerialBridgeJSON",
                "SerialBridgeProtocol", "SerialBridgeUplink", "SerialBridgeGateway", "CSerialSupport", "SerialBridgeFuzzing",
                "SerialBridgeSimulator", "SerialBridgeServer",
                "SerialBridgeDevices", "SerialBridgePolling", "SerialBridgeSpool", "SerialBridgeSystemd",
                "SerialBridgeLogging",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            ],
            exclude: ["Vectors", "Fixtures"],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
