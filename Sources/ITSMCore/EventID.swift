/// Identifiers of the events the worker publishes: random (version 4) UUIDs, lowercase.
///
/// Foundation's `UUID()` opens, reads and closes `/dev/urandom` for each one on Linux: three
/// system calls and a file descriptor per ticket event. The standard library's generator (the
/// kernel's `getrandom`, as secure) needs no file and two calls.
public enum EventID {
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        // Version 4 in the high nibble of byte 6, variant 0b10 in the top bits of byte 8.
        let high = (generator.next() as UInt64) & ~0xF000 | 0x4000
        let low = (generator.next() as UInt64) & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
        return String(unsafeUninitializedCapacity: 36) { buffer in
            let digits: StaticString = "0123456789abcdef"
            var at = 0
            func put(_ word: UInt64, nibbles: ClosedRange<Int>) {
                for nibble in nibbles.reversed() {
                    buffer[at] = digits.utf8Start[Int(word >> UInt64(nibble * 4) & 0xF)]
                    at += 1
                }
            }
            put(high, nibbles: 8...15); buffer[at] = UInt8(ascii: "-"); at += 1
            put(high, nibbles: 4...7); buffer[at] = UInt8(ascii: "-"); at += 1
            put(high, nibbles: 0...3); buffer[at] = UInt8(ascii: "-"); at += 1
            put(low, nibbles: 12...15); buffer[at] = UInt8(ascii: "-"); at += 1
            put(low, nibbles: 0...11)
            return at
        }
    }
}
