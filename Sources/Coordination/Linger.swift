import NIOCore
import NIOPosix

/// The short waits that let a batch gather company (``Coalescer``'s linger, the outbox relay's),
/// on a timer of NIO's event loops.
///
/// Why not `Task.sleep`: in this runtime every sleep goes through Dispatch's Swift-level executor,
/// which creates and arms a Dispatch timer source and wakes Dispatch's timer thread (most of the
/// 4 % of the worker's CPU under Dispatch in scenario 1), and the lingers wait once per batch. An
/// event loop's timer is an entry in the heap of a loop that is busy anyway under load. Scenario 1,
/// four interleaved pairs: 8 % less worker CPU per alert, context switches per alert 8.8 → 6.4.
public enum Linger {
    /// Waits `duration`. Not cancellable (a cancelled task waits it out), so only for short waits.
    public static func wait(for duration: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: TimeAmount(duration)) { continuation.resume() }
        }
    }
}
