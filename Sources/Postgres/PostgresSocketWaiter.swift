import CLibPQ
import Coordination
import Foundation
import Glibc
import Synchronization

/// One thread that waits for a pool's connections to have an answer, so that a statement needs
/// no thread of its own while the server works on it.
///
/// A statement is sent from the task that runs it (libpq in non-blocking mode), and the task
/// suspends here until its socket is readable; then it reads the answer itself. With a thread
/// per statement instead, each statement woke a pool thread, which sent it, slept in `poll`
/// until the answer came, and woke the task: two sleeps per statement where this has one.
///
/// Each socket is armed one-shot in an epoll set: arming is a system call from the waiting task,
/// not a message to this thread, and an answer fires once, however long the task takes to read
/// it.
final class PostgresSocketWaiter: Sendable {
    private let epoll: Int32
    /// Written once, at close, to end the thread's wait.
    private let stop: Int32
    private let waiting = Mutex<Waiting>(Waiting())

    private struct Waiting {
        var continuations: [Int32: CheckedContinuation<Bool, Never>] = [:]
        var closed = false
    }

    init() {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        stop = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        precondition(epoll >= 0 && stop >= 0, "epoll or eventfd failed: \(errno)")
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = stop
        epoll_ctl(epoll, EPOLL_CTL_ADD, stop, &event)
        Thread { [self] in run() }.start()
    }

    /// Suspends until `socket` is readable (or, with `writable`, also writable) or has an error;
    /// false once the waiter is closed.
    func wait(for socket: Int32, writable: Bool = false) async -> Bool {
        await withCheckedContinuation { continuation in
            let armed = waiting.withLock { waiting -> Bool in
                guard !waiting.closed else { return false }
                waiting.continuations[socket] = continuation
                return true
            }
            guard armed else { return continuation.resume(returning: false) }
            var event = epoll_event()
            event.events = EPOLLIN.rawValue | EPOLLONESHOT.rawValue | (writable ? EPOLLOUT.rawValue : 0)
            event.data.fd = socket
            // MOD first: a socket is added once and re-armed for every wait after that. A socket
            // number reused by a new connection after the old one closed was removed from the
            // set with it, so ADD is right for it.
            if epoll_ctl(epoll, EPOLL_CTL_MOD, socket, &event) != 0 {
                if errno != ENOENT || epoll_ctl(epoll, EPOLL_CTL_ADD, socket, &event) != 0 {
                    // Cannot wait on it: let the caller read, which reports the real error.
                    let continuation = waiting.withLock { $0.continuations.removeValue(forKey: socket) }
                    continuation?.resume(returning: true)
                }
            }
        }
    }

    /// Ends the thread; waits in progress return false.
    func close() {
        let pending = waiting.withLock { waiting in
            waiting.closed = true
            defer { waiting.continuations = [:] }
            return Array(waiting.continuations.values)
        }
        var one: UInt64 = 1
        _ = write(stop, &one, 8)
        for continuation in pending { continuation.resume(returning: false) }
    }

    private func run() {
        nameCurrentThread("postgres-wait")
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        while true {
            let count = epoll_wait(epoll, &events, Int32(events.count), -1)
            if count < 0 {
                if errno == EINTR { continue }
                break
            }
            var ready: [CheckedContinuation<Bool, Never>] = []
            var stopping = false
            waiting.withLock { waiting in
                for event in events[0..<Int(count)] {
                    if event.data.fd == stop {
                        stopping = true
                    } else if let continuation = waiting.continuations.removeValue(forKey: event.data.fd) {
                        ready.append(continuation)
                    }
                }
            }
            for continuation in ready { continuation.resume(returning: true) }
            if stopping { break }
        }
    }

    deinit {
        // Here rather than when the thread ends: a late `wait` must not arm a number that
        // another file took meanwhile.
        Glibc.close(epoll)
        Glibc.close(stop)
    }
}
