import Glibc
import Synchronization

/// The only door into a connection's thread: Swift tasks post closures here and the thread
/// runs them between reads, so the C connection is only ever touched by that one thread.
final class AMQPMailbox: Sendable {
    typealias Command = @Sendable (AMQPConnectionDriver) -> Void

    private struct State {
        var commands: [Command] = []
        var isOpen = true
    }

    private let state = Mutex(State())
    /// The read end of a pipe the thread polls next to the socket, so that a posted command
    /// wakes it at once.
    let wakeDescriptor: Int32
    private let wakeWriter: Int32

    init() {
        var descriptors: [Int32] = [0, 0]
        let status = pipe(&descriptors)
        precondition(status == 0, "pipe failed: \(errno)")
        for descriptor in descriptors {
            _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        }
        wakeDescriptor = descriptors[0]
        wakeWriter = descriptors[1]
    }

    deinit {
        close(wakeDescriptor)
        close(wakeWriter)
    }

    /// Queues a command; `false` once the connection is closed.
    func post(_ command: @escaping Command) -> Bool {
        let (accepted, first) = state.withLock { state in
            guard state.isOpen else { return (false, false) }
            state.commands.append(command)
            return (true, state.commands.count == 1)
        }
        // Commands already queued mean a wake is pending: the thread takes them all at once,
        // and the first command after a take writes the next wake. One write per burst, not
        // per command.
        if first { wake() }
        return accepted
    }

    func wake() {
        // A full pipe already means "wake up"; the failed write is fine.
        var one: UInt8 = 1
        _ = write(wakeWriter, &one, 1)
    }

    func clearWake() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(wakeDescriptor, &buffer, buffer.count) > 0 {}
    }

    func take() -> [Command] {
        state.withLock { state in
            let commands = state.commands
            state.commands.removeAll(keepingCapacity: true)
            return commands
        }
    }

    /// Refuses further commands and returns those still queued, for the caller to fail.
    func shut() -> [Command] {
        state.withLock { state in
            state.isOpen = false
            let commands = state.commands
            state.commands = []
            return commands
        }
    }
}
