import ITSMCore
import Testing

struct TicketLinkTests {
    /// Incidents in ServiceNow carry this key; a retry after an upgrade must compute the same one
    /// to find the incident an earlier attempt created. Expected values from Python's hashlib.
    @Test func theCorrelationKeyIsTheFirst20BytesOfTheSHA256InHex() {
        #expect(TicketLink.correlationID(customerID: "cust-42", alertID: "trg-123", generation: 0) == "ceburu-f0b37c1d909d5b244a601e219f0b83e2dfaec478")
        #expect(TicketLink.correlationID(customerID: "cust-42", alertID: "trg-123", generation: 2) == "ceburu-7b99057d815ad06793583602e878682efbbdd6ca")
    }
}
