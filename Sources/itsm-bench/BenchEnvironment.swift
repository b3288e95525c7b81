import AMQP
import AsyncHTTPClient
import Foundation
import ITSMCore
import ITSMPostgres
import ITSMWorker
import Logging
import Postgres
import ServiceNowSimulator

/// Where the benchmark's servers are and where the worker binary is.
struct BenchEnvironment {
    let amqpURL: String
    let adminDatabaseURL: String
    let workerBinary: String
    let secretKey = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()

    func databaseURL(_ name: String) throws -> String {
        let base = try PostgresConfiguration(url: adminDatabaseURL)
        return "postgres://\(base.user):\(base.password ?? "")@\(base.host):\(base.port)/\(name)"
    }

    func pool(_ database: String? = nil, size: Int = 4) throws -> PostgresPool {
        var configuration = try PostgresConfiguration(url: adminDatabaseURL)
        if let database { configuration.database = database }
        configuration.maximumConnections = size
        return PostgresPool(configuration: configuration, logger: Logger(label: "bench"))
    }

    /// A fresh, migrated database.
    func freshDatabase(_ name: String) async throws -> PostgresPool {
        let admin = try pool(size: 1)
        try await admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        try await admin.execute("CREATE DATABASE \(name)")
        await admin.close()
        let pool = try self.pool(name, size: 8)
        try await WorkerSchema.migrator().migrate(pool, logger: Logger(label: "bench"))
        return pool
    }
}

extension Duration {
    var ms: String { String(format: "%.1f ms", seconds * 1000) }
}

/// A TCP port nobody listens on right now (the kernel's pick), for the worker's /metrics.
func freePort() -> Int {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}
