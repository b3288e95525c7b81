import ArgumentParser
import Foundation
import ITSMWorker
import ServiceNowSimulator
import UnixSignals

/// SIGINT and SIGTERM as something to await.
enum TerminationSignal {
    /// Returns at the first SIGINT or SIGTERM.
    static func wait() async {
        for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { return }
    }
}
