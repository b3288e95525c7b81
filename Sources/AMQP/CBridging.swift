import CRabbitMQ
import Foundation

/// Owns the C memory behind one call's arguments (strings, tables, properties) and frees it
/// when the call is done. Used only on the connection's thread.
///
/// Swift may end an object's life at its last use, which is before the C call reads the
/// memory; every user pins its arena with `defer { withExtendedLifetime(arena) {} }`.
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    deinit {
        for pointer in allocations { free(pointer) }
    }

    private func allocate(_ size: Int) -> UnsafeMutableRawPointer {
        let pointer = malloc(max(size, 1))!
        allocations.append(pointer)
        return pointer
    }

    func bytes(_ string: String) -> amqp_bytes_t {
        bytes(Array(string.utf8))
    }

    func bytes(_ data: [UInt8]) -> amqp_bytes_t {
        let pointer = allocate(data.count)
        data.withUnsafeBytes { source in
            if let base = source.baseAddress { pointer.copyMemory(from: base, byteCount: data.count) }
        }
        return amqp_bytes_t(len: data.count, bytes: pointer)
    }

    func cString(_ string: String) -> UnsafePointer<CChar> {
        let utf8 = Array(string.utf8CString)
        let pointer = allocate(utf8.count).bindMemory(to: CChar.self, capacity: utf8.count)
        for (index, byte) in utf8.enumerated() { pointer[index] = byte }
        return UnsafePointer(pointer)
    }

    func table(_ dictionary: [String: AMQPFieldValue]) -> amqp_table_t {
        guard !dictionary.isEmpty else { return amqp_table_t(num_entries: 0, entries: nil) }
        let entries = allocate(MemoryLayout<amqp_table_entry_t>.stride * dictionary.count)
            .bindMemory(to: amqp_table_entry_t.self, capacity: dictionary.count)
        // Sorted so that the wire form (and so the broker's view of arguments) is stable.
        for (index, key) in dictionary.keys.sorted().enumerated() {
            entries[index] = amqp_table_entry_t(key: bytes(key), value: field(dictionary[key]!))
        }
        return amqp_table_t(num_entries: Int32(dictionary.count), entries: entries)
    }

    func field(_ value: AMQPFieldValue) -> amqp_field_value_t {
        var field = amqp_field_value_t()
        switch value {
        case .string(let s):
            field.kind = UInt8(AMQP_FIELD_KIND_UTF8.rawValue)
            field.value.bytes = bytes(s)
        case .bytes(let b):
            field.kind = UInt8(AMQP_FIELD_KIND_BYTES.rawValue)
            field.value.bytes = bytes(b)
        case .bool(let b):
            field.kind = UInt8(AMQP_FIELD_KIND_BOOLEAN.rawValue)
            field.value.boolean = b ? 1 : 0
        case .int(let i):
            // RabbitMQ reads numeric queue arguments as signed 64-bit ("long").
            field.kind = UInt8(AMQP_FIELD_KIND_I64.rawValue)
            field.value.i64 = i
        case .double(let d):
            field.kind = UInt8(AMQP_FIELD_KIND_F64.rawValue)
            field.value.f64 = d
        case .timestamp(let t):
            field.kind = UInt8(AMQP_FIELD_KIND_TIMESTAMP.rawValue)
            field.value.u64 = t
        case .table(let t):
            field.kind = UInt8(AMQP_FIELD_KIND_TABLE.rawValue)
            field.value.table = table(t)
        case .array(let values):
            field.kind = UInt8(AMQP_FIELD_KIND_ARRAY.rawValue)
            let entries = allocate(MemoryLayout<amqp_field_value_t>.stride * max(values.count, 1))
                .bindMemory(to: amqp_field_value_t.self, capacity: max(values.count, 1))
            for (index, element) in values.enumerated() { entries[index] = self.field(element) }
            field.value.array = amqp_array_t(num_entries: Int32(values.count), entries: entries)
        case .void:
            field.kind = UInt8(AMQP_FIELD_KIND_VOID.rawValue)
        }
        return field
    }

    func properties(_ p: AMQPProperties) -> amqp_basic_properties_t {
        var props = amqp_basic_properties_t()
        var flags: UInt32 = 0
        props.delivery_mode = p.persistent ? 2 : 1
        flags |= UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG)
        if let v = p.contentType { props.content_type = bytes(v); flags |= UInt32(AMQP_BASIC_CONTENT_TYPE_FLAG) }
        if let v = p.contentEncoding { props.content_encoding = bytes(v); flags |= UInt32(AMQP_BASIC_CONTENT_ENCODING_FLAG) }
        if !p.headers.isEmpty { props.headers = table(p.headers); flags |= UInt32(AMQP_BASIC_HEADERS_FLAG) }
        if let v = p.priority { props.priority = v; flags |= UInt32(AMQP_BASIC_PRIORITY_FLAG) }
        if let v = p.correlationID { props.correlation_id = bytes(v); flags |= UInt32(AMQP_BASIC_CORRELATION_ID_FLAG) }
        if let v = p.replyTo { props.reply_to = bytes(v); flags |= UInt32(AMQP_BASIC_REPLY_TO_FLAG) }
        if let v = p.expiration { props.expiration = bytes(v); flags |= UInt32(AMQP_BASIC_EXPIRATION_FLAG) }
        if let v = p.messageID { props.message_id = bytes(v); flags |= UInt32(AMQP_BASIC_MESSAGE_ID_FLAG) }
        if let v = p.timestamp { props.timestamp = v; flags |= UInt32(AMQP_BASIC_TIMESTAMP_FLAG) }
        if let v = p.type { props.type = bytes(v); flags |= UInt32(AMQP_BASIC_TYPE_FLAG) }
        if let v = p.appID { props.app_id = bytes(v); flags |= UInt32(AMQP_BASIC_APP_ID_FLAG) }
        props._flags = flags
        return props
    }
}

// MARK: - From C

extension amqp_bytes_t {
    var array: [UInt8] {
        guard len > 0, let bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: len))
    }

    var string: String {
        String(decoding: array, as: UTF8.self)
    }
}

extension AMQPFieldValue {
    init(_ field: amqp_field_value_t) {
        switch UInt32(field.kind) {
        case AMQP_FIELD_KIND_BOOLEAN.rawValue: self = .bool(field.value.boolean != 0)
        case AMQP_FIELD_KIND_I8.rawValue: self = .int(Int64(field.value.i8))
        case AMQP_FIELD_KIND_U8.rawValue: self = .int(Int64(field.value.u8))
        case AMQP_FIELD_KIND_I16.rawValue: self = .int(Int64(field.value.i16))
        case AMQP_FIELD_KIND_U16.rawValue: self = .int(Int64(field.value.u16))
        case AMQP_FIELD_KIND_I32.rawValue: self = .int(Int64(field.value.i32))
        case AMQP_FIELD_KIND_U32.rawValue: self = .int(Int64(field.value.u32))
        case AMQP_FIELD_KIND_I64.rawValue: self = .int(field.value.i64)
        case AMQP_FIELD_KIND_U64.rawValue: self = .int(Int64(truncatingIfNeeded: field.value.u64))
        case AMQP_FIELD_KIND_F32.rawValue: self = .double(Double(field.value.f32))
        case AMQP_FIELD_KIND_F64.rawValue: self = .double(field.value.f64)
        case AMQP_FIELD_KIND_TIMESTAMP.rawValue: self = .timestamp(field.value.u64)
        case AMQP_FIELD_KIND_UTF8.rawValue:
            // Headers written by other clients are not always valid UTF-8; keep the bytes then.
            let bytes = field.value.bytes.array
            if let s = String(validating: bytes, as: UTF8.self) { self = .string(s) } else { self = .bytes(bytes) }
        case AMQP_FIELD_KIND_BYTES.rawValue: self = .bytes(field.value.bytes.array)
        case AMQP_FIELD_KIND_TABLE.rawValue: self = .table(Self.dictionary(field.value.table))
        case AMQP_FIELD_KIND_ARRAY.rawValue:
            let array = field.value.array
            var values: [AMQPFieldValue] = []
            if let entries = array.entries {
                for index in 0..<Int(array.num_entries) { values.append(AMQPFieldValue(entries[index])) }
            }
            self = .array(values)
        default: self = .void
        }
    }

    static func dictionary(_ table: amqp_table_t) -> [String: AMQPFieldValue] {
        var result: [String: AMQPFieldValue] = [:]
        guard let entries = table.entries else { return result }
        for index in 0..<Int(table.num_entries) {
            result[entries[index].key.string] = AMQPFieldValue(entries[index].value)
        }
        return result
    }
}

extension AMQPProperties {
    init(_ props: amqp_basic_properties_t) {
        let flags = props._flags
        func has(_ flag: Int32) -> Bool { flags & UInt32(flag) != 0 }
        self.init()
        persistent = has(AMQP_BASIC_DELIVERY_MODE_FLAG) && props.delivery_mode == 2
        if has(AMQP_BASIC_CONTENT_TYPE_FLAG) { contentType = props.content_type.string }
        if has(AMQP_BASIC_CONTENT_ENCODING_FLAG) { contentEncoding = props.content_encoding.string }
        if has(AMQP_BASIC_HEADERS_FLAG) { headers = AMQPFieldValue.dictionary(props.headers) }
        if has(AMQP_BASIC_PRIORITY_FLAG) { priority = props.priority }
        if has(AMQP_BASIC_CORRELATION_ID_FLAG) { correlationID = props.correlation_id.string }
        if has(AMQP_BASIC_REPLY_TO_FLAG) { replyTo = props.reply_to.string }
        if has(AMQP_BASIC_EXPIRATION_FLAG) { expiration = props.expiration.string }
        if has(AMQP_BASIC_MESSAGE_ID_FLAG) { messageID = props.message_id.string }
        if has(AMQP_BASIC_TIMESTAMP_FLAG) { timestamp = props.timestamp }
        if has(AMQP_BASIC_TYPE_FLAG) { type = props.type.string }
        if has(AMQP_BASIC_APP_ID_FLAG) { appID = props.app_id.string }
    }
}
