// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]
// The generic waiting and caching types are used with the worker's own types from other modules;
// without their bodies there, every call looked up generic metadata at run time (scenario 1's
// profile: 4.4 % of the worker's samples in the parking lot, 0.7 % with this; four pairs: 3.6 %
// less CPU against the benchmark's own).
let genericSettings = swiftSettings + [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "ceburu-itsm-worker",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "itsm-worker", targets: ["itsm-worker"]),
        .executable(name: "itsm-demo", targets: ["itsm-demo"]),
        .library(name: "AMQP", targets: ["AMQP"]),
        .library(name: "Postgres", targets: ["Postgres"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
    ],
    targets: [
        // C libraries, from Debian's librabbitmq-dev and libpq-dev.
        .systemLibrary(
            name: "CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        // Links OpenSSL (libssl-dev) for the TLS verify-error shim.
        .target(
            name: "CRabbitMQShims",
            dependencies: ["CRabbitMQ"],
            linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]
        ),
        // The Swift runtime's global-executor hook, for running tasks on NIO's event loops.
        .target(name: "CExecutorHook"),
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),

        // A size- and time-bounded cache, for every cache keyed by what arrives from outside.
        .target(name: "Caching", swiftSettings: genericSettings),
        // JSON read and written by hand: alerts and ServiceNow's answers in, request bodies, ticket
        // events and log lines out, each once per alert.
        .target(name: "JSONText", swiftSettings: swiftSettings),
        // The one waiting mechanism (a lock with parked tasks and timeouts), the one backoff, and
        // the batches' short linger on NIO's timers.
        .target(name: "Coordination",
                dependencies: [.product(name: "DequeModule", package: "swift-collections"),
                               .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")],
                swiftSettings: genericSettings),

        // Our Swift wrappers of the two C libraries; they know nothing about alerts.
        .target(
            name: "AMQP",
            dependencies: [
                "CRabbitMQ", "CRabbitMQShims", "Coordination",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Postgres",
            dependencies: [
                "CLibPQ", "Coordination",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        // ServiceNow: OAuth client credentials, Table API, metadata. Knows nothing of RabbitMQ.
        .target(
            name: "ServiceNow",
            dependencies: [
                "Caching", "Coordination", "JSONText",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // A ServiceNow instance for tests, the demo and benchmarks.
        .target(
            name: "ServiceNowSimulator",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // The domain and the use cases: messages, mappings, ticket rules, the alert and status
        // handlers, the outbox relay, the sync, and the ports (ticket repository, incident
        // gateway, integration directory, event outbox and publisher, sync store, integration
        // commands, clock) the adapters implement.
        // No I/O and no import of AMQP, Postgres or ServiceNow.
        .target(
            name: "ITSMCore",
            dependencies: [
                "Caching", "Coordination", "JSONText",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // The PostgreSQL adapter: ticket links, status events, the outbox, integrations and
        // mappings, the audit trail, the schema and its migrations.
        .target(
            name: "ITSMPostgres",
            dependencies: [
                "Postgres", "ITSMCore", "Caching", "Coordination", "JSONText",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                // Postgres's interface names NIOPosix types; its C shims must be visible here.
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            resources: [.copy("Migrations")],
            swiftSettings: swiftSettings
        ),
        // The ServiceNow adapter: the incident gateway and integration directory over sessions,
        // mapping validation, instance metadata, Test Connection.
        .target(
            name: "ITSMServiceNow",
            dependencies: [
                "ServiceNow", "ITSMCore", "ITSMPostgres", "Caching",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The AMQP adapter: the topology with its retry and dead-letter queues, the consumers,
        // the processor that settles every delivery (ack, delayed retry, dead letter), the
        // command processor, and the event publisher.
        .target(
            name: "ITSMAMQP",
            dependencies: [
                "AMQP", "ITSMCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The composition root: WorkerRuntime builds the adapters and hands them to the use
        // cases; configuration, metrics, logging, observability.
        .target(
            name: "ITSMWorker",
            dependencies: [
                "AMQP", "Postgres", "ServiceNow", "ITSMCore", "ITSMAMQP", "ITSMPostgres", "ITSMServiceNow", "Caching", "Coordination", "JSONText",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),

        .executableTarget(
            name: "itsm-worker",
            dependencies: [
                "AMQP", "Postgres", "ITSMCore", "ITSMPostgres", "ITSMServiceNow", "ITSMWorker", "ServiceNow", "CExecutorHook", "JSONText",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings,
            // Release builds are what we ship (statically linked, see deploy/Dockerfile). Every
            // worker process pays for the pages the loader touches: lld packs the ~130,000
            // relative relocations (DT_RELR, glibc 2.36+) and nothing needs the executable's
            // symbols exported. About 8 MB less resident memory per idle worker.
            linkerSettings: [
                .unsafeFlags(["-use-ld=lld", "-Xlinker", "--no-export-dynamic", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"],
                             .when(platforms: [.linux], configuration: .release)),
            ]
        ),

        // The demo (scripts/run) and the simulator as a server, apart from the production binary.
        .executableTarget(
            name: "itsm-demo",
            dependencies: [
                "AMQP", "ITSMCore", "ITSMPostgres", "ITSMWorker", "ServiceNowSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // The benchmark: load generator and scenarios (scripts/bench).
        .executableTarget(
            name: "itsm-bench",
            dependencies: [
                "AMQP", "Postgres", "ITSMCore", "ITSMAMQP", "ITSMPostgres", "ITSMWorker", "ServiceNow", "ServiceNowSimulator",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        .testTarget(name: "AMQPTests", dependencies: ["AMQP", "Coordination", "TestSupport", .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
        // The in-memory twins, the manual clock and the contract every ticket repository keeps.
        .target(name: "ITSMCoreTesting", dependencies: ["ITSMCore"], path: "Tests/ITSMCoreTesting", swiftSettings: swiftSettings),
        .testTarget(name: "ITSMCoreTests", dependencies: ["ITSMCore", "ITSMCoreTesting", "JSONText", "TestSupport", .product(name: "Logging", package: "swift-log"), .product(name: "PropertyBased", package: "swift-property-based")], swiftSettings: swiftSettings),
        .testTarget(name: "CachingTests", dependencies: ["Caching"], swiftSettings: swiftSettings),
        .testTarget(name: "CoordinationTests", dependencies: ["Coordination", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "ITSMWorkerTests", dependencies: ["ITSMWorker", "ITSMCore", "JSONText", "ITSMAMQP", "ITSMPostgres", "ITSMServiceNow", "AMQP", "Postgres", "ServiceNow", "ServiceNowSimulator", "Coordination", "TestSupport", "ITSMCoreTesting", .product(name: "Logging", package: "swift-log"), .product(name: "Crypto", package: "swift-crypto")], swiftSettings: swiftSettings),
        .target(name: "TestSupport", dependencies: [.product(name: "Logging", package: "swift-log")], path: "Tests/TestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "ServiceNowTests", dependencies: ["ServiceNow", "ServiceNowSimulator", "TestSupport", .product(name: "Logging", package: "swift-log"), .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "PropertyBased", package: "swift-property-based")], swiftSettings: swiftSettings),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport", .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
    ]
)
