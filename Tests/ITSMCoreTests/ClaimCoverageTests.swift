import ITSMCore
import Testing

/// When a create may skip renewing its claim before writing to ServiceNow (pure arithmetic;
/// the takeover it protects against is exercised end to end by CrashRecoveryTests).
struct ClaimCoverageTests {
    // The defaults: 30 s request timeout + 30 s slot wait, a 70 s lease.
    let window = Duration.seconds(60)
    let lease = Duration.seconds(70)

    @Test func aFreshClaimCoversTheWrite() {
        #expect(TicketLifecycle.claimCovers(writeWindow: window, lease: lease, age: .zero))
        #expect(TicketLifecycle.claimCovers(writeWindow: window, lease: lease, age: .milliseconds(20)))
        #expect(TicketLifecycle.claimCovers(writeWindow: window, lease: lease, age: .seconds(5)))
    }

    @Test func anOlderClaimIsRenewedWhileMoreThanAWriteWindowIsStillLeft() {
        #expect(!TicketLifecycle.claimCovers(writeWindow: window, lease: lease, age: .milliseconds(5_001)))
        #expect(!TicketLifecycle.claimCovers(writeWindow: window, lease: lease, age: .seconds(9)))
        #expect(!TicketLifecycle.claimCovers(writeWindow: window, lease: lease, age: .seconds(80)))
    }

    @Test func theTestStacksShortLeaseStillSkipsForAFreshClaim() {
        // 3 s timeout + 0.5 s slot wait, a 4 s lease: fresh claims skip, a quarter second is the limit.
        #expect(TicketLifecycle.claimCovers(writeWindow: .milliseconds(3_500), lease: .seconds(4), age: .milliseconds(100)))
        #expect(!TicketLifecycle.claimCovers(writeWindow: .milliseconds(3_500), lease: .seconds(4), age: .milliseconds(300)))
    }
}
