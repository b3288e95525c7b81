import AMQP
import Foundation
import ITSMAMQP
import ITSMCore
import ITSMPostgres
import ITSMWorker
import Postgres
import ServiceNow
import ServiceNowSimulator
import Synchronization
import TestSupport
import Testing

/// The stacks the running test made.
final class MadeStacks: Sendable {
    @TaskLocal static var current: MadeStacks?
    private let stacks = Mutex<[TestStack]>([])

    struct Missing: Error, CustomStringConvertible {
        var description: String { "TestStack.make needs the suite trait .stopsTestStacks, which removes the stack's queues and database when the test ends" }
    }

    func add(_ stack: TestStack) { stacks.withLock { $0.append(stack) } }

    func stopAll() async {
        for stack in stacks.withLock({ stacks in defer { stacks = [] }; return stacks }) { await stack.stop() }
    }
}
