import AMQP
import Foundation
import Synchronization
import TestSupport
import ITSMWorker
import Testing

final class LineSink: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}
