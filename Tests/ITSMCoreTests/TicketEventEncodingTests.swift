import Foundation
import ITSMCore
import PropertyBased
import Testing

/// The event is written by hand; subscribers read what `JSONEncoder` wrote before.
@Suite struct TicketEventEncodingTests {
    static func event(_ text: String, kind: TicketEvent.Kind = .created, full: Bool = true) -> TicketEvent {
        var event = TicketEvent(type: kind, eventID: "e-\(text)", customerID: "c-\(text)", networkID: "n/\(text)", alertID: text,
                                causeEventID: full ? "cause \(text)" : nil,
                                ticket: full ? TicketEvent.Ticket(table: "incident", sysID: "s\(text)", number: "INC\(text)",
                                                                  url: "https://x.service-now.com/\(text)", state: "2") : nil,
                                alertStatus: full ? .acknowledged : nil, warnings: full ? ["w \(text)", text] : [],
                                error: full ? TicketEvent.Failure(code: "c\(text)", message: text) : nil,
                                group: full ? TicketEvent.Group(key: text, size: -3) : nil,
                                comment: full ? TicketEvent.Comment(field: "comments", author: text, text: "\(text)\(text)", createdAt: "t") : nil)
        event.occurredAt = "2026-12-05T00:00:00.000Z \(text)"
        return event
    }

    static func foundation(_ event: TicketEvent) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try! encoder.encode(event), as: UTF8.self)
    }

    @Test(arguments: ["", "plain", "q\"uote", "back\\slash", "a/b", "line\nbreak\r\ttab", "é ü 中文 😀", "\u{2028}\u{7F}"])
    func writesWhatJSONEncoderWrote(_ text: String) {
        for kind in TicketEvent.Kind.allCases {
            for full in [true, false] {
                let event = Self.event(text, kind: kind, full: full)
                #expect(String(decoding: event.encoded(), as: UTF8.self) == Self.foundation(event))
            }
        }
    }

    /// Any text, control characters included, reads back as it was.
    @Test func anyTextReadsBack() async {
        let text = Gen.int(in: 0...0x2FF).map { Unicode.Scalar(UInt32($0))! }.array(of: 0...12)
            .map { String(String.UnicodeScalarView($0)) }
        await propertyCheck(count: 3_000, input: text) { text in
            let event = Self.event(text)
            let decoded = try? JSONDecoder().decode(TicketEvent.self, from: event.encoded())
            #expect(decoded == event, "\(text.unicodeScalars.map { $0.value })")
        }
    }
}
