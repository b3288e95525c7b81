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

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
