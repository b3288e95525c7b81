/// Which instance URLs the worker may call.
///
/// The worker sends a customer's client secret to whatever host this accepts, so the check works
/// on the characters of the URL and never on a decoded form: `%2F`, `%00`, `@`, IDNA and numeric
/// host spellings are refused rather than interpreted. Accepted: `https://<host>[:443]` with a
/// host of `[a-z0-9.-]` labels that equals an allowed suffix or ends with `.` + one
/// (`service-now.com` and the operator's allowlist), an empty path. With ``allowInsecure`` (the
/// simulator) also `http` and any port on loopback (`localhost`, `127.x.y.z`, `[::1]`).
/// Where the name resolves to is checked again for every connection (``ConnectAddressPolicy``).
public struct InstanceURLPolicy: Sendable {
    public var allowInsecure: Bool
    /// Extra host suffixes, such as `servicenowservices.com` for government instances.
    public private(set) var allowedHostSuffixes: [String]
    /// Ports an https instance may use besides its default (443).
    public var allowedPorts: Set<Int>

    public static let serviceNowSuffix = "service-now.com"

    public init(allowInsecure: Bool = false, allowedHostSuffixes: [String] = [], allowedPorts: Set<Int> = [443]) {
        self.allowInsecure = allowInsecure
        // A suffix that is not itself a plain host name (a typo, `*.example.com`) could never
        // match a host this policy accepts; it is dropped rather than half-honoured.
        self.allowedHostSuffixes = allowedHostSuffixes.compactMap { suffix in
            var text = suffix.lowercased()
            while text.hasPrefix(".") { text.removeFirst() }
            while text.hasSuffix(".") { text.removeLast() }
            return Self.isHostName(text) && !Self.isNumericHost(text) ? text : nil
        }
        self.allowedPorts = allowedPorts
    }

    /// Every suffix a host must equal or end in (after a dot).
    public var suffixes: [String] { [Self.serviceNowSuffix] + allowedHostSuffixes }

    public func validate(_ text: String) throws(ServiceNowError) -> InstanceURL {
        let url = try parse(text)
        // The URL requests are built from must read back as the same instance; anything else
        // means the parts and their spelling disagree, and the spelling is what a client obeys.
        guard let again = try? parse(url.description), again == url else {
            throw ServiceNowError(.urlRefused, message: "the instance URL does not survive being rebuilt from its parts")
        }
        return url
    }

    private func parse(_ text: String) throws(ServiceNowError) -> InstanceURL {
        func refuse(_ reason: String) -> ServiceNowError { ServiceNowError(.urlRefused, message: reason) }
        let trimmed = Substring(text).drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()
        let bytes = Array(String(trimmed).utf8)
        guard !bytes.isEmpty, bytes.count <= 300 else { throw refuse("not a URL with a scheme and host") }
        // Printable ASCII only: no controls, spaces, or non-ASCII letters that a later step
        // could fold (IDNA) or a client could decode differently. Punycode (xn--) is ASCII.
        guard bytes.allSatisfy({ (0x21...0x7e).contains($0) }) else {
            throw refuse("the instance URL may hold printable ASCII only (write an international name in its xn-- form)")
        }
        let lower = String(decoding: bytes, as: UTF8.self).lowercased()
        let scheme: String
        let rest: Substring
        if lower.hasPrefix("https://") { scheme = "https"; rest = lower.dropFirst(8) }
        else if lower.hasPrefix("http://") { scheme = "http"; rest = lower.dropFirst(7) }
        else if let colon = lower.firstIndex(of: ":"), lower[..<colon].allSatisfy({ $0.isLetter }), !lower[..<colon].isEmpty {
            throw refuse("scheme \(lower[..<colon]) is not allowed; use https")
        } else { throw refuse("not a URL with a scheme and host") }

        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" || $0 == "\\" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let tail = rest[authorityEnd...]
        guard tail.isEmpty || tail == "/" else {
            throw refuse("the instance URL is the instance's root, e.g. https://acme.service-now.com")
        }
        guard !authority.contains("@") else { throw refuse("credentials do not belong in the instance URL") }
        guard !authority.contains("%") else { throw refuse("percent-escapes are not allowed in the instance's host") }

        var host: String
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw refuse("an unterminated IPv6 literal") }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw refuse("unexpected characters after the IPv6 literal") }
                portText = after.dropFirst()
            }
            guard allowInsecure && host == "::1" else {
                throw refuse("IPv6 literals are not allowed (only [::1] with ITSM_ALLOW_INSECURE_INSTANCE_URLS=true)")
            }
        } else {
            if let colon = authority.firstIndex(of: ":") {
                host = String(authority[..<colon])
                portText = authority[authority.index(after: colon)...]
            } else {
                host = String(authority)
            }
            // A single trailing dot is the same name, fully qualified.
            if host.hasSuffix(".") { host.removeLast() }
            guard Self.isHostName(host) else {
                throw refuse("the host must be a name of letters, digits, dots and hyphens")
            }
        }

        var port: Int?
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = Int(portText), (1...65535).contains(value) else { throw refuse("the port is not a number from 1 to 65535") }
            port = value
        }

        let loopback = host == "::1" || host == "localhost" || host.hasSuffix(".localhost") || Self.canonicalIPv4(host)?.first == 127
        if loopback {
            guard allowInsecure else { throw refuse("loopback addresses are allowed only with ITSM_ALLOW_INSECURE_INSTANCE_URLS=true") }
            if scheme == "https" && port == 443 { port = nil }
            if scheme == "http" && port == 80 { port = nil }
            return InstanceURL(scheme: scheme, host: host, port: port)
        }
        guard scheme == "https" else {
            throw refuse("only https is allowed (http only on loopback with ITSM_ALLOW_INSECURE_INSTANCE_URLS=true)")
        }
        if Self.isNumericHost(host) {
            throw refuse("numeric hosts are not allowed; use the instance's name, e.g. acme.service-now.com")
        }
        if let reason = Self.forbiddenName(host) { throw refuse(reason) }
        guard suffixes.contains(where: { host == $0 || host.hasSuffix("." + $0) }) else {
            throw refuse("host \(host) is not under service-now.com or the allowlist (ITSM_INSTANCE_HOST_ALLOWLIST)")
        }
        if let value = port {
            guard value == 443 || allowedPorts.contains(value) else {
                throw refuse("port \(value) is not allowed (443, or one listed in ITSM_INSTANCE_PORTS)")
            }
            if value == 443 { port = nil }
        }
        return InstanceURL(scheme: scheme, host: host, port: port)
    }

    /// Labels of `[a-z0-9-]`, 1 to 63 characters, not starting or ending with a hyphen; at most
    /// 253 characters in all.
    static func isHostName(_ host: String) -> Bool {
        guard !host.isEmpty, host.utf8.count <= 253 else { return false }
        for label in host.split(separator: ".", omittingEmptySubsequences: false) {
            guard (1...63).contains(label.utf8.count), label.first != "-", label.last != "-",
                  label.utf8.allSatisfy({ (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2d }) else { return false }
        }
        return true
    }

    /// Whether a resolver or browser could read the name as an IPv4 address in any of its
    /// spellings (`2130706433`, `0x7f000001`, `0177.1`, `127.1`): its last label is a number.
    static func isNumericHost(_ host: String) -> Bool {
        guard let last = host.split(separator: ".").last else { return false }
        if last.allSatisfy({ $0.isASCII && $0.isNumber }) { return true }
        return last.hasPrefix("0x") && last.dropFirst(2).allSatisfy { $0.isHexDigit }
    }

    /// The four octets of a dotted quad written the plain way (no leading zeros, no hex).
    static func canonicalIPv4(_ host: String) -> [Int]? {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets: [Int] = []
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  part == "0" || part.first != "0", let value = Int(part), value <= 255 else { return nil }
            octets.append(value)
        }
        return octets
    }

    /// Names that stand for cloud metadata or internal services.
    static func forbiddenName(_ host: String) -> String? {
        if ["metadata.google.internal", "metadata", "instance-data"].contains(host) || host.hasSuffix(".internal") {
            return "\(host) is a cloud metadata or internal name"
        }
        return nil
    }
}
