import Foundation
import ITSMCore
import Testing

@Suite struct EventIDTests {
    @Test func eventIDsAreLowercaseVersionFourUUIDsAndDoNotRepeat() {
        var seen = Set<String>()
        for _ in 0..<10_000 {
            let id = EventID.random()
            let parsed = UUID(uuidString: id)
            #expect(parsed != nil, "\(id) is not a UUID")
            #expect(parsed?.uuidString.lowercased() == id)
            let bytes = parsed.map { withUnsafeBytes(of: $0.uuid) { Array($0) } } ?? []
            #expect(bytes.count == 16 && bytes[6] >> 4 == 4 && bytes[8] >> 6 == 0b10, "\(id): version or variant")
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
    }

    /// Every hex digit position takes every value: no nibble is stuck (a shift or mask gone wrong).
    @Test func everyRandomDigitVaries() {
        let ids = (0..<2_000).map { _ in Array(EventID.random().utf8) }
        for position in 0..<36 where ![8, 13, 14, 18, 19, 23].contains(position) {
            #expect(Set(ids.map { $0[position] }).count == 16, "position \(position)")
        }
        #expect(Set(ids.map { $0[19] }) == Set("89ab".utf8), "the variant digit")
    }
}
