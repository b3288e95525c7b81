import Coordination
import Foundation
import Testing

struct ThreadNameTests {
    /// What the kernel shows for the calling thread.
    private static func kernelName() -> String {
        ((try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "").trimmingCharacters(in: .newlines)
    }

    @Test func theKernelSeesTheNameCutToFifteenBytes() async {
        let names: [String] = await withCheckedContinuation { continuation in
            Thread {
                let before = Self.kernelName()
                nameCurrentThread("itsm-short")
                let short = Self.kernelName()
                nameCurrentThread("a-name-longer-than-fifteen-bytes")
                continuation.resume(returning: [before, short, Self.kernelName()])
            }.start()
        }
        #expect(names[0] != "itsm-short")
        #expect(names[1] == "itsm-short")
        #expect(names[2] == "a-name-longer-t")
    }
}
