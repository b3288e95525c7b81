@testable import AMQP
import Testing

struct PendingAcksTests {
    let start = ContinuousClock.now

    @Test func acksFromTheFrontLeaveAsOneMultipleAck() {
        var acks = PendingAcks(hold: .milliseconds(5))
        for tag in UInt64(1)...5 { acks.delivered(tag) }
        for tag: UInt64 in [3, 1, 2] { acks.ack(tag, now: start) }
        #expect(acks.flush(now: start) == [.init(tag: 3, multiple: true)])
        acks.ack(4, now: start)
        #expect(acks.flush(now: start) == [.init(tag: 4, multiple: false)])
        #expect(acks.isEmpty)
    }

    @Test func aFrontRunWaitsTheHoldUnlessItIsTheLargerPartOfWhatIsOut() {
        var acks = PendingAcks(hold: .milliseconds(5))
        for tag in UInt64(1)...8 { acks.delivered(tag) }
        acks.ack(1, now: start)
        acks.ack(2, now: start + .milliseconds(1))
        // Two of eight out: they wait for company, up to the hold of the first.
        #expect(acks.flush(now: start + .milliseconds(4)).isEmpty)
        #expect(acks.deadline == start + .milliseconds(5))
        #expect(acks.flush(now: start + .milliseconds(5)) == [.init(tag: 2, multiple: true)])
        // Four of the six still out: the window would idle, so they leave at once.
        for tag: UInt64 in [3, 4, 5, 6] { acks.ack(tag, now: start + .milliseconds(6)) }
        #expect(acks.flush(now: start + .milliseconds(6)) == [.init(tag: 6, multiple: true)])
        #expect(acks.isEmpty)
    }

    @Test func anAckBehindADeliveryInProgressWaitsTheHoldThenLeavesAlone() {
        var acks = PendingAcks(hold: .milliseconds(5))
        for tag in UInt64(1)...4 { acks.delivered(tag) }
        acks.ack(2, now: start)
        acks.ack(4, now: start + .milliseconds(3))
        #expect(acks.flush(now: start + .milliseconds(4)).isEmpty)
        #expect(acks.deadline == start + .milliseconds(5))
        #expect(acks.flush(now: start + .milliseconds(5)) == [.init(tag: 2, multiple: false), .init(tag: 4, multiple: false)])
        #expect(acks.deadline == nil)
        // Those two are settled: acking 1 and 3 later must not reach past them.
        acks.ack(1, now: start + .milliseconds(6))
        #expect(acks.flush(now: start + .milliseconds(6)) == [.init(tag: 1, multiple: false)])
        acks.ack(3, now: start + .milliseconds(6))
        #expect(acks.flush(now: start + .milliseconds(6)) == [.init(tag: 3, multiple: false)])
    }

    @Test func aNackedDeliveryNoLongerHoldsTheOthersBack() {
        var acks = PendingAcks(hold: .seconds(60))
        for tag in UInt64(1)...3 { acks.delivered(tag) }
        acks.ack(2, now: start)
        acks.ack(3, now: start)
        #expect(acks.flush(now: start).isEmpty)
        acks.settledAlone(1)
        #expect(acks.flush(now: start) == [.init(tag: 3, multiple: true)])
    }

    @Test func forceSendsEverythingHeldAndResetForgetsTheChannel() {
        var acks = PendingAcks(hold: .seconds(60))
        for tag in UInt64(1)...3 { acks.delivered(tag) }
        acks.ack(3, now: start)
        #expect(acks.flush(now: start, force: true) == [.init(tag: 3, multiple: false)])
        acks.ack(2, now: start)
        acks.reset()
        #expect(acks.isEmpty)
        acks.delivered(1)
        acks.ack(1, now: start)
        #expect(acks.flush(now: start) == [.init(tag: 1, multiple: false)])
    }

    @Test func manyDeliveriesStayCheapToTrack() {
        var acks = PendingAcks(hold: .milliseconds(5))
        var sent = 0
        for tag in UInt64(1)...10_000 {
            acks.delivered(tag)
            acks.ack(tag, now: start)
            if tag % 10 == 0 { sent += acks.flush(now: start).count }
        }
        #expect(sent == 1_000)
        #expect(acks.isEmpty)
    }
}
