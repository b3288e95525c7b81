import Foundation
import NIOPosix

/// Resolves a host name to numeric addresses; the system's resolver, or a scripted one in tests.
public struct AddressLookup: Sendable {
    public let addresses: @Sendable (String) async -> [String]?

    public init(_ addresses: @escaping @Sendable (String) async -> [String]?) {
        self.addresses = addresses
    }

    /// getaddrinfo(3), on NIO's pool for blocking calls: a slow DNS server must not hold a thread
    /// that runs tasks (in the worker, an event loop).
    public static let system = AddressLookup { host in
        try? await NIOThreadPool.singleton.runIfActive { resolve(host) }
    }

    private static func resolve(_ host: String) -> [String]? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return nil }
        defer { freeaddrinfo(result) }
        var addresses: [String] = []
        var pointer: UnsafeMutablePointer<addrinfo>? = first
        while let entry = pointer {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(entry.pointee.ai_addr, entry.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                addresses.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
            pointer = entry.pointee.ai_next
        }
        return addresses
    }
}
