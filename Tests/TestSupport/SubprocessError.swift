import Foundation
import Glibc

public struct SubprocessError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
