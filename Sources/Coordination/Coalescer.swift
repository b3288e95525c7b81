import Synchronization

/// Runs requests that arrive while earlier ones are running together, as one batch.
///
/// A quiet coalescer waits for nothing: a request that finds fewer than `leaders` batches
/// running starts one at once (alone, so latency stays one round trip); the others queue, and
/// when a batch ends, the longest-queued request leads the next one with everything queued
/// behind it. Under load, then, N concurrent requests cost about N / batch round trips instead
/// of N. With `linger`, a batch that starts within `linger` of the previous one (the coalescer
/// is busy) first waits that long for company: requests that each take a fraction of a
/// millisecond rarely overlap on their own.
///
/// `run` answers each request of a batch, in order; throwing answers every one with the error.
public final class Coalescer<Request: Sendable, Response: Sendable>: Sendable {
    public let maximumBatch: Int
    public let leaders: Int
    public let linger: Duration?
    private let run: @Sendable ([Request]) async throws -> [Result<Response, any Error>]

    private enum Turn: Sendable {
        case answered(Result<Response, any Error>)
        case lead
    }

    private struct Waiting: Sendable {
        let request: Request
        let continuation: CheckedContinuation<Turn, Never>
    }

    private struct State: Sendable {
        var waiting: [Waiting] = []
        var leading = 0
        var batches = 0
        var requests = 0
        var lastStart: ContinuousClock.Instant?
    }

    private let state = Mutex(State())

    public init(maximumBatch: Int = 64, leaders: Int = 2, linger: Duration? = nil,
                run: @escaping @Sendable ([Request]) async throws -> [Result<Response, any Error>]) {
        precondition(maximumBatch > 0 && leaders > 0)
        self.maximumBatch = maximumBatch
        self.leaders = leaders
        self.linger = linger
        self.run = run
    }

    public func submit(_ request: Request) async throws -> Response {
        let turn: Turn = await withCheckedContinuation { continuation in
            let lead = state.withLock { state -> Bool in
                if state.leading < leaders {
                    state.leading += 1
                    return true
                }
                state.waiting.append(Waiting(request: request, continuation: continuation))
                return false
            }
            if lead { continuation.resume(returning: .lead) }
        }
        switch turn {
        case .answered(let result): return try result.get()
        case .lead: return try await lead(with: request).get()
        }
    }

    private func lead(with request: Request) async -> Result<Response, any Error> {
        if let linger {
            let now = ContinuousClock.now
            let busy = state.withLock { state -> Bool in
                defer { state.lastStart = now }
                return state.lastStart.map { now - $0 < linger } ?? false
            }
            if busy { await Linger.wait(for: linger) }
        }
        let others = state.withLock { state -> [Waiting] in
            let taken = Array(state.waiting.prefix(maximumBatch - 1))
            state.waiting.removeFirst(taken.count)
            state.batches += 1
            state.requests += taken.count + 1
            return taken
        }
        let batch = [request] + others.map(\.request)
        var results: [Result<Response, any Error>]
        do {
            results = try await run(batch)
            precondition(results.count == batch.count, "a batch answers each of its requests")
        } catch {
            results = Array(repeating: .failure(error), count: batch.count)
        }
        for (waiting, result) in zip(others, results.dropFirst()) {
            waiting.continuation.resume(returning: .answered(result))
        }
        let next = state.withLock { state -> Waiting? in
            guard !state.waiting.isEmpty else {
                state.leading -= 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.continuation.resume(returning: .lead)
        return results[0]
    }

    /// Batches run and requests answered so far (metrics, tests).
    public var counts: (batches: Int, requests: Int) {
        state.withLock { ($0.batches, $0.requests) }
    }
}
