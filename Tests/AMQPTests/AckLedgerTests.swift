@testable import AMQP
import Testing

/// When an ack needs the connection's thread woken, and how long the thread may sleep.
struct AckLedgerTests {
    let start = ContinuousClock.now

    @Test func whileDeliveriesAreOutTheThreadSleepsAtMostTheHoldSoAcksNeedNoWake() throws {
        var ledger = AckLedger(hold: .milliseconds(5))
        #expect(ledger.sleep(now: start, limit: .milliseconds(250)) == .milliseconds(250))
        ledger.awake()
        ledger.pending.delivered(1)
        ledger.pending.delivered(2)
        #expect(ledger.sleep(now: start, limit: .milliseconds(250)) == .milliseconds(5))
        // Asleep until start + 5 ms: an ack made at any time after that sleep began is due later.
        #expect(try ledger.ack(2, generation: 0, now: start + .milliseconds(1)) == false)
        #expect(try ledger.ack(1, generation: 0, now: start + .milliseconds(4)) == false)
        ledger.awake()
        #expect(ledger.pending.flush(now: start + .milliseconds(5)) == [.init(tag: 2, multiple: true)])
    }

    @Test func anAckThatMustLeaveBeforeTheThreadLooksWakesItOnce() throws {
        // A hold shorter than the thread's shortest sleep: the thread must be woken.
        var ledger = AckLedger(hold: .zero)
        for tag in UInt64(1)...3 { ledger.pending.delivered(tag) }
        #expect(ledger.sleep(now: start, limit: .milliseconds(250)) == AckLedger.shortestSleep)
        #expect(try ledger.ack(1, generation: 0, now: start) == true)
        // The wake is on its way; it will see this one too.
        #expect(try ledger.ack(2, generation: 0, now: start) == false)
        ledger.awake()
        #expect(try ledger.ack(3, generation: 0, now: start) == false)
    }

    @Test func aHeldAckShortensTheNextSleepToItsDeadline() throws {
        var ledger = AckLedger(hold: .milliseconds(50))
        for tag in UInt64(1)...2 { ledger.pending.delivered(tag) }
        _ = try ledger.ack(2, generation: 0, now: start)
        #expect(ledger.pending.flush(now: start).isEmpty)
        #expect(ledger.sleep(now: start + .milliseconds(20), limit: .milliseconds(250)) == .milliseconds(30))
        ledger.awake()
        #expect(ledger.sleep(now: start + .milliseconds(60), limit: .milliseconds(250)) == .zero)
    }

    @Test func acksOfAnOlderChannelOrAClosedConnectionAreRefused() throws {
        var ledger = AckLedger(hold: .milliseconds(5))
        ledger.pending.delivered(1)
        ledger.newChannel()
        #expect(throws: AMQPError.staleDelivery) { try ledger.ack(1, generation: 0, now: start) }
        #expect(!ledger.pending.hasUnsettled)
        ledger.pending.delivered(1)
        #expect(try ledger.ack(1, generation: 1, now: start) == false)
        ledger.close()
        #expect(throws: AMQPError.closed) { try ledger.ack(1, generation: 1, now: start) }
        // What was noted before the close still leaves with the last flush.
        #expect(ledger.pending.flush(now: start, force: true) == [.init(tag: 1, multiple: false)])
    }
}
