@testable import AMQP
import Testing

/// The publisher-confirm rules without a broker: tags, the window, returns, nacks, deadlines.
struct ConfirmWindowTests {
    struct Publish: ConfirmablePublish, Equatable {
        var name: String
        var exchange = "events"
        var routingKey = "ticket.created"
        var mandatory = true
        var deadline: ContinuousClock.Instant

        init(_ name: String, routingKey: String = "ticket.created", deadline: ContinuousClock.Instant = .now + .seconds(30)) {
            self.name = name
            self.routingKey = routingKey
            self.deadline = deadline
        }
    }

    typealias Window = ConfirmWindow<Publish>

    func sendAll(_ names: [String], into window: inout Window) {
        for name in names {
            let publish = Publish(name)
            if window.admit(publish) { window.sent(publish) }
        }
    }

    func outcomes(_ settled: [(Publish, Result<AMQPPublishOutcome, AMQPError>)]) -> [String] {
        settled.map { publish, result in
            switch result {
            case .success(.confirmed): return "\(publish.name) confirmed"
            case .success(.returned(let code, _)): return "\(publish.name) returned \(code)"
            case .failure(.publishNacked): return "\(publish.name) nacked"
            case .failure(let error): return "\(publish.name) failed \(error)"
            }
        }
    }

    @Test func aMultipleAckSettlesEveryTagUpToIt() {
        var window = Window(limit: 10)
        sendAll(["a", "b", "c", "d"], into: &window)
        let acked = outcomes(window.settle(upTo: 3, multiple: true, nacked: false))
        #expect(acked == ["a confirmed", "b confirmed", "c confirmed"])
        #expect(window.inFlight == 1)
        let nacked = outcomes(window.settle(upTo: 4, multiple: false, nacked: true))
        #expect(nacked == ["d nacked"])
        #expect(window.inFlight == 0)
    }

    @Test func aSingleAckSettlesOnlyItsTag() {
        var window = Window(limit: 10)
        sendAll(["a", "b", "c"], into: &window)
        let second = outcomes(window.settle(upTo: 2, multiple: false, nacked: false))
        #expect(second == ["b confirmed"])
        let unknown = outcomes(window.settle(upTo: 9, multiple: false, nacked: false))
        #expect(unknown.isEmpty, "an unknown tag settles nothing")
        #expect(window.inFlight == 2)
    }

    @Test func aFullWindowHoldsPublishesInOrderUntilConfirmsMakeRoom() {
        var window = Window(limit: 2)
        sendAll(["a", "b", "c", "d"], into: &window)
        #expect(window.inFlight == 2 && window.waitingForRoom == 2)
        let early = window.nextToSend()
        #expect(early == nil, "no room yet")
        _ = window.settle(upTo: 1, multiple: false, nacked: false)
        let next = window.nextToSend()
        #expect(next?.name == "c")
        window.sent(next!)
        let none = window.nextToSend()
        #expect(none == nil)
        // A new publish queues behind the waiting one, even once there is room.
        _ = window.settle(upTo: 2, multiple: false, nacked: false)
        let admitted = window.admit(Publish("e"))
        #expect(!admitted)
        let oldest = window.nextToSend()
        #expect(oldest?.name == "d")
    }

    @Test func aReturnBelongsToTheOldestUnmatchedMandatoryPublishWithItsRoute() {
        var window = Window(limit: 10)
        for (name, key) in [("a", "x"), ("b", "y"), ("c", "y")] {
            let publish = Publish(name, routingKey: key)
            if window.admit(publish) { window.sent(publish) }
        }
        window.returned(exchange: "events", routingKey: "y", code: 312, text: "NO_ROUTE")
        window.returned(exchange: "events", routingKey: "y", code: 312, text: "NO_ROUTE")
        window.returned(exchange: "events", routingKey: "z", code: 312, text: "NO_ROUTE")
        let settled = outcomes(window.settle(upTo: 3, multiple: true, nacked: false))
        #expect(settled == ["a confirmed", "b returned 312", "c returned 312"])
    }

    @Test func expiryTakesTheOverdueFromBothQueues() {
        let start = ContinuousClock.now
        var window = Window(limit: 1)
        let early = Publish("early", deadline: start + .seconds(1))
        let late = Publish("late", deadline: start + .seconds(10))
        let waitingEarly = Publish("waiting", deadline: start + .seconds(2))
        let sentEarly = window.admit(early)
        #expect(sentEarly)
        window.sent(early)
        let sentWaiting = window.admit(waitingEarly)
        #expect(!sentWaiting)
        let nothingYet = window.expire(now: start)
        #expect(nothingYet.isEmpty)
        let overdue = window.expire(now: start + .seconds(3)).map(\.name)
        #expect(overdue == ["early", "waiting"])
        let sentLate = window.admit(late)
        #expect(sentLate)
        window.sent(late)
        let left = window.removeAll().map(\.name)
        #expect(left == ["late"])
        #expect(window.inFlight == 0 && window.waitingForRoom == 0)
    }

    @Test func aNewChannelNumbersFromOneAgain() {
        var window = Window(limit: 10)
        sendAll(["a", "b"], into: &window)
        _ = window.removeAll()
        window.restartNumbering()
        sendAll(["c"], into: &window)
        let renumbered = outcomes(window.settle(upTo: 1, multiple: false, nacked: false))
        #expect(renumbered == ["c confirmed"])
    }
}
