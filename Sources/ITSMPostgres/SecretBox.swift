import Crypto
import Foundation

/// Seals client secrets with AES-256-GCM. Each sealed value is stored with the id of the key that
/// sealed it, so keys can rotate: new values use the current key, old ones stay readable while
/// their key is listed in `ITSM_SECRET_KEY_PREVIOUS`, and `integration rotate-keys` reseals them.
/// The customer id is the sealed box's associated data.
public struct SecretBox: Sendable {
    public struct Sealed: Sendable, Equatable {
        /// nonce | ciphertext | tag
        public let combined: [UInt8]
        public let keyID: String
        /// Sealed with the customer id as associated data: it opens only for that customer.
        /// False for secrets sealed before that, until `integration rotate-keys` reseals them.
        public let boundToCustomer: Bool

        public init(combined: [UInt8], keyID: String, boundToCustomer: Bool) {
            self.combined = combined
            self.keyID = keyID
            self.boundToCustomer = boundToCustomer
        }
    }

    // Raw bytes rather than SymmetricKey, which is not Sendable in this swift-crypto.
    private let current: (id: String, key: [UInt8])
    private let keys: [String: [UInt8]]

    /// `currentKey` and `previousKeys` are base64 of 32 bytes.
    public init(currentKey: String, previousKeys: [String] = []) throws(SecretBoxError) {
        func load(_ text: String) throws(SecretBoxError) -> (String, [UInt8]) {
            guard let data = Data(base64Encoded: text), data.count == 32 else { throw .invalidKey }
            return (Self.keyID(of: data), Array(data))
        }
        current = try load(currentKey)
        var keys = [current.id: current.key]
        for text in previousKeys {
            let (id, key) = try load(text)
            keys[id] = key
        }
        self.keys = keys
    }

    /// The first 8 bytes of SHA-256 of the key, in hex: names a key without revealing it.
    static func keyID(of key: Data) -> String {
        SHA256.hash(data: key).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    public var currentKeyID: String { current.id }

    /// Seals `secret` for `customerID`: whoever can write the integrations table cannot move it
    /// to another customer's row and have the worker send it to that customer's instance.
    public func seal(_ secret: String, customerID: String) throws(SecretBoxError) -> Sealed {
        do {
            let box = try AES.GCM.seal(Data(secret.utf8), using: SymmetricKey(data: current.key),
                                       authenticating: Self.associatedData(customerID))
            guard let combined = box.combined else { throw SecretBoxError.sealFailed }
            return Sealed(combined: Array(combined), keyID: current.id, boundToCustomer: true)
        } catch {
            throw .sealFailed
        }
    }

    /// Opens a secret stored for `customerID`.
    public func open(_ sealed: Sealed, customerID: String) throws(SecretBoxError) -> String {
        guard let key = keys[sealed.keyID] else { throw .unknownKey(sealed.keyID) }
        do {
            let box = try AES.GCM.SealedBox(combined: Data(sealed.combined))
            let opened = sealed.boundToCustomer
                ? try AES.GCM.open(box, using: SymmetricKey(data: key), authenticating: Self.associatedData(customerID))
                : try AES.GCM.open(box, using: SymmetricKey(data: key))
            return String(decoding: opened, as: UTF8.self)
        } catch {
            throw .openFailed
        }
    }

    private static func associatedData(_ customerID: String) -> Data {
        Data("ceburu-itsm client secret for customer \(customerID)".utf8)
    }
}
