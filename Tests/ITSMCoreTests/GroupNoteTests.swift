import Foundation
import ITSMCore
import Testing

/// The work notes that name the alerts joining a shared incident stay a journal entry's size,
/// whatever ids the publisher sends.
struct GroupNoteTests {
    func pending(_ kind: TicketGroup.Kind, ids: [String]) -> PendingGroupNotes {
        PendingGroupNotes(group: TicketGroup(id: 1, kind: kind, key: "net-1:cpu_usage", resolve: .last, size: ids.count + 1), networkID: "net-1",
                          table: "incident", sysID: "s", members: ids.enumerated().map {
                              PendingGroupNotes.Member(linkID: $0.offset, alertID: $0.element, alertType: "cpu_usage", joinedAt: Date(timeIntervalSince1970: 0))
                          })
    }

    @Test func aNoteNamesEveryMemberWhenTheyFit() {
        let (text, members) = pending(.storm, ids: ["a1", "a2", "a3"]).note()
        #expect(text == "Alert storm on network net-1: 3 more alert(s) joined this incident instead of opening their own (4 in all so far): a1, a2, a3")
        #expect(members.count == 3)
        let group = pending(.group, ids: ["g1"]).note().text
        #expect(group == "1 alert(s) joined this incident (group 'net-1:cpu_usage', 2 in all so far):\n- g1 (cpu_usage) at 1970-01-01T00:00:00.000Z")
    }

    @Test func longIdsAreCutAndANoteStopsAtItsSize() {
        let ids = (0..<500).map { String(repeating: "x", count: 5_000) + "\($0)" }
        for kind in [TicketGroup.Kind.storm, .group] {
            let (text, members) = pending(kind, ids: ids).note()
            #expect(text.utf8.count <= PendingGroupNotes.maxNoteBytes)
            #expect(members.count > 100 && members.count < 500, "\(members.count) members in one note")
            #expect(members.map(\.linkID) == Array(0..<members.count), "the first ones, in order")
            #expect(text.contains("\(members.count) "))
            #expect(!text.contains(String(repeating: "x", count: 64)))
        }
        // One member always goes, so a turn never writes nothing.
        #expect(pending(.storm, ids: [String(repeating: "y", count: 100_000)]).note().members.count == 1)
    }
}
