#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which IP addresses the worker may open a connection to for a ServiceNow instance.
///
/// The URL policy checks a name; DNS decides where it leads, and can answer differently at each
/// lookup (rebinding). So every connection's peer address is checked once it is connected, before
/// the first request (and the secret or token in it) is written: private, loopback, link-local
/// (cloud metadata), carrier-grade NAT, NAT64, multicast, unspecified and reserved addresses are
/// refused. Loopback is allowed only in insecure mode, for the simulator.
public struct ConnectAddressPolicy: Sendable, Equatable {
    public var allowLoopback: Bool

    public init(allowLoopback: Bool) {
        self.allowLoopback = allowLoopback
    }

    /// Why the worker may not talk to `address` (a numeric IPv4 or IPv6 address), or nil.
    public func refusal(_ address: String) -> String? {
        if let octets = Self.ipv4Bytes(address) {
            return refusal(ipv4: octets, written: address)
        }
        guard let bytes = Self.ipv6Bytes(address) else { return "\(address) is not an IP address" }
        // ::ffff:a.b.c.d reaches the IPv4 address a.b.c.d.
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
            return refusal(ipv4: Array(bytes[12..<16]), written: address)
        }
        if bytes[0..<15].allSatisfy({ $0 == 0 }) {
            if bytes[15] == 1 { return allowLoopback ? nil : "\(address) is a loopback address" }
            if bytes[15] == 0 { return "\(address) is the unspecified address" }
        }
        // The rest of ::/96 is deprecated IPv4-compatible space; nothing real lives there.
        if bytes[0..<12].allSatisfy({ $0 == 0 }) { return "\(address) is an IPv4-compatible address" }
        if bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80 { return "\(address) is a link-local address" }
        if bytes[0] & 0xfe == 0xfc { return "\(address) is a private (unique local) address" }
        if bytes[0] == 0xff { return "\(address) is a multicast address" }
        // 64:ff9b::/96 and 64:ff9b:1::/48 translate to IPv4 addresses a DNS64 resolver chose.
        if bytes[0] == 0x00 && bytes[1] == 0x64 && bytes[2] == 0xff && bytes[3] == 0x9b { return "\(address) is a NAT64 address" }
        // 2001:db8::/32 is for documentation, fec0::/10 the deprecated site-local space.
        if bytes[0] == 0x20 && bytes[1] == 0x01 && bytes[2] == 0x0d && bytes[3] == 0xb8 { return "\(address) is a documentation address" }
        if bytes[0] == 0xfe && bytes[1] & 0xc0 == 0xc0 { return "\(address) is a site-local address" }
        return nil
    }

    private func refusal(ipv4 o: [UInt8], written: String) -> String? {
        if o[0] == 127 { return allowLoopback ? nil : "\(written) is a loopback address" }
        if o[0] == 10 || (o[0] == 172 && (16...31).contains(o[1])) || (o[0] == 192 && o[1] == 168) {
            return "\(written) is a private address"
        }
        if o[0] == 169 && o[1] == 254 { return "\(written) is a link-local (cloud metadata) address" }
        if o[0] == 100 && (64...127).contains(o[1]) { return "\(written) is a shared (carrier-grade NAT) address" }
        if o[0] == 192 && o[1] == 0 && o[2] == 0 { return "\(written) is an IETF protocol address" }
        if o[0] == 198 && (o[1] == 18 || o[1] == 19) { return "\(written) is a benchmarking address" }
        if o[0] == 0 { return "\(written) is not a routable address" }
        if o[0] >= 224 { return "\(written) is a multicast or reserved address" }
        return nil
    }

    static func ipv4Bytes(_ text: String) -> [UInt8]? {
        var address = in_addr()
        guard inet_pton(AF_INET, text, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }

    static func ipv6Bytes(_ text: String) -> [UInt8]? {
        var address = in6_addr()
        // A zone (fe80::1%eth0) is only ever link-local.
        let plain = text.split(separator: "%", maxSplits: 1).first.map(String.init) ?? text
        guard inet_pton(AF_INET6, plain, &address) == 1 else { return nil }
        return withUnsafeBytes(of: &address) { Array($0) }
    }
}
