#if canImport(Glibc)
import Glibc
#endif

/// Names the calling thread as the kernel sees it (`top -H`, `perf`, `/proc/<pid>/task`).
///
/// Foundation's `Thread.name` does not reach the kernel on Linux, so a thread started from an
/// event loop shows under that loop's name; and `pthread_setname_np` is not visible through
/// Swift's Glibc module. The kernel keeps at most 15 bytes.
public func nameCurrentThread(_ name: String) {
    #if os(Linux)
    let descriptor = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return }
    defer { close(descriptor) }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    #endif
}
