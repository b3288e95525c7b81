import Caching
import Synchronization
import Testing

@Suite struct BoundedCacheTests {
    @Test func neverHoldsMoreThanItsCapacity() {
        let cache = BoundedCache<String, Int>(capacity: 100)
        for n in 0..<10_000 { cache.set(n, for: "customer-\(n)") }
        #expect(cache.count <= 100)
        #expect(cache.evictions >= 9_900)
        // The newest entries survive an eviction; the oldest went first.
        #expect(cache.value(for: "customer-9999") == 9_999)
        #expect(cache.value(for: "customer-0") == nil)
    }

    @Test func expiredEntriesAreNotServedAndMakeRoomFirst() {
        let clock = Mutex(ContinuousClock.now)
        let cache = BoundedCache<String, Int>(capacity: 4, ttl: .milliseconds(50), now: { clock.withLock { $0 } })
        cache.set(1, for: "a")
        clock.withLock { $0 += .milliseconds(49) }
        #expect(cache.value(for: "a") == 1)
        clock.withLock { $0 += .milliseconds(1) }
        #expect(cache.value(for: "a") == nil)
        for key in ["b", "c", "d", "e"] { cache.set(0, for: key) }
        clock.withLock { $0 += .milliseconds(50) }
        cache.set(5, for: "f")
        #expect(cache.count == 1, "expired entries were dropped before live ones")
        #expect(cache.evictions == 0)
    }

    @Test func makesAValueOnceAndKeepsIt() {
        let cache = BoundedCache<String, [Int]>(capacity: 10)
        var made = 0
        for _ in 0..<5 { _ = cache.value(for: "k") { made += 1; return [made] } }
        #expect(made == 1)
        #expect(cache.value(for: "k") == [1])
        cache.removeValue(for: "k")
        #expect(cache.value(for: "k") == nil)
    }
}
