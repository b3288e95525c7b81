import CExecutorHook
import NIOCore
import NIOPosix
import Synchronization

/// Runs Swift Concurrency's global executor on SwiftNIO's event loops (the singleton group that
/// AsyncHTTPClient and the metrics server use), instead of Dispatch's cooperative threads.
///
/// Why: an alert's work hops between threads at every step (a delivery from the broker's
/// thread, a ServiceNow answer from an event loop, a statement's result from the pool's
/// threads), and each hop into an idle cooperative thread is a wake-up and a sleep. With the
/// tasks on the event loops, an answer read on a loop continues on that loop. Scenario 1,
/// four interleaved pairs: 11.4 → 7.5 context switches per alert, about 8 % less worker CPU,
/// and larger statement batches (transactions per alert 1.1 → 0.8).
///
/// The condition is the one every event loop has: nothing may block. libpq's statements are
/// sent without blocking and their answers awaited by the pool's waiting thread (connecting on
/// the pool's own threads), librabbitmq runs on each connection's thread, DNS of Test Connection on NIO's
/// blocking pool. `Task.sleep` still wakes on Dispatch (the hook covers jobs to run now).
///
/// How many loops: `ITSM_EVENT_LOOPS`, one by default. With two loops (NIO's default on two
/// cores) an answer from the broker's or the pool's thread resumed its task on either loop in
/// turn, and a ServiceNow connection could sit on the other one, so an alert crossed between
/// the loops too. Scenario 1, seven interleaved pairs: 6.5–6.8 → 4.6–4.9 threads put to sleep
/// per alert, worker CPU per alert 7 % lower against the benchmark's own CPU. A worker then
/// runs its own code on about one core (its database and broker threads aside); a larger
/// machine runs more workers, or sets more loops.
///
/// This is `NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()`
/// with the hook reached by linking (see `CExecutorHook`). Like it, only for runtimes whose hook
/// has the signature below.
enum EventLoopExecutor {
    private typealias EnqueueGlobalHook = @convention(thin) (UnownedJob, @convention(thin) (UnownedJob) -> Void) -> Void

    private static let installed = Atomic(false)

    /// Call once the configuration is read and before anything uses NIO's singleton group: NIO
    /// takes its size from the first read and stops the process if it is set after that. Only
    /// the first call does anything. False if something else set the hook or the runtime is one
    /// this code does not know.
    @discardableResult
    static func install(loops: Int) -> Bool {
        guard installed.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else { return false }
        NIOSingletons.groupLoopCountSuggestion = loops
        #if compiler(<6.6)
        guard let slot = itsm_enqueue_global_hook_address(), slot.pointee == nil else { return false }
        let hook: EnqueueGlobalHook = { job, _ in
            // `any()` is the current loop when called on one: a task resumed by a loop stays there.
            MultiThreadedEventLoopGroup.singleton.any().enqueue(ExecutorJob(job))
        }
        slot.pointee = unsafeBitCast(hook, to: UnsafeMutableRawPointer.self)
        return true
        #else
        return false
        #endif
    }

    /// Whether a new task runs on an event loop right now (the hook installed and honoured).
    static var active: Bool {
        get async { await Task.detached { MultiThreadedEventLoopGroup.currentEventLoop != nil }.value }
    }

    /// The loops of the group the tasks run on.
    static var loopCount: Int {
        MultiThreadedEventLoopGroup.singleton.makeIterator().reduce(0) { count, _ in count + 1 }
    }
}
