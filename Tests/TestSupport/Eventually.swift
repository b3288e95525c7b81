/// Waits until `condition` holds or `seconds` pass; returns whether it held. The tests' one way
/// of waiting for something to happen: the condition is polled every `poll`, so a test waits
/// for what it needs and no longer, and never for a fixed time.
@discardableResult
public func eventually(_ seconds: Double = 20, poll: Duration = .milliseconds(20),
                       _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(min(seconds, 1e9) * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: poll)
    }
    return try await condition()
}
