import AMQP
import Foundation
import ITSMAMQP
import ITSMCore
import ITSMPostgres
import ITSMWorker
import Postgres
import ServiceNow
import ServiceNowSimulator
import TestSupport
import Testing

/// An in-process worker.
struct RunningWorker: Sendable {
    let runtime: WorkerRuntime
    let task: Task<Void, any Error>

    func stop() async {
        task.cancel()
        _ = await task.result
    }
}
