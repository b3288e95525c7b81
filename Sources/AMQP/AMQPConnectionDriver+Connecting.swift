import CRabbitMQ
import CRabbitMQShims
import Glibc
import Logging
import Synchronization

extension AMQPConnectionDriver {
    // MARK: - Connecting

    /// A TCP socket, or a TLS one that verifies the broker's certificate and host name.
    func makeSocket(_ state: amqp_connection_state_t) throws(AMQPError) -> OpaquePointer {
        guard let tls = configuration.tls else {
            guard let socket = amqp_tcp_socket_new(state) else {
                throw .library(operation: "amqp_tcp_socket_new", reason: "could not create a socket")
            }
            return socket
        }
        guard let socket = amqp_ssl_socket_new(state) else {
            throw .library(operation: "amqp_ssl_socket_new", reason: "could not create a TLS socket")
        }
        amqp_ssl_socket_set_verify_peer(socket, 1)
        amqp_ssl_socket_set_verify_hostname(socket, 1)
        if let context = amqp_ssl_socket_get_context(socket) { CRabbitMQShims_tls_record_verify_errors(context) }
        let caFile = tls.caFile ?? AMQPConfiguration.TLS.systemCAFile
        guard amqp_ssl_socket_set_cacert(socket, caFile) == AMQP_STATUS_OK.rawValue else {
            throw .tls(reason: "cannot read the CA certificates in \(caFile)")
        }
        if let certificate = tls.certificateFile, let key = tls.keyFile {
            guard amqp_ssl_socket_set_key(socket, certificate, key) == AMQP_STATUS_OK.rawValue else {
                throw .tls(reason: "cannot use the client certificate \(certificate) with the key \(key)")
            }
        }
        return socket
    }

    /// Why opening the socket failed, in one line; for TLS, with OpenSSL's reason.
    static func openFailure(_ status: Int32, host: String) -> String {
        let verifyError = String(cString: CRabbitMQShims_tls_verify_error())
        switch status {
        case AMQP_STATUS_SSL_PEER_VERIFY_FAILED.rawValue:
            return "TLS: the broker's certificate was refused: \(verifyError.isEmpty ? "not signed by the configured CA" : verifyError)"
        case AMQP_STATUS_SSL_HOSTNAME_VERIFY_FAILED.rawValue:
            return "TLS: the broker's certificate is not valid for the host name \(host)"
        case AMQP_STATUS_SSL_CONNECTION_FAILED.rawValue, AMQP_STATUS_SSL_ERROR.rawValue:
            return "TLS handshake failed (\(verifyError.isEmpty ? "is the port a TLS listener, and does the broker accept this client?" : verifyError))"
        default:
            return String(cString: amqp_error_string2(status))
        }
    }

    /// Tries every node once, starting with `start`; throws the last node's failure.
    func connectToAnyNode(startingAt start: Int) throws(AMQPError) {
        let count = configuration.endpoints.count
        var failure = AMQPError.connectFailed(host: configuration.host, port: configuration.port, reason: "no node to connect to")
        for offset in 0..<count {
            let index = (start + offset) % count
            do {
                try connect(to: index)
                endpointIndex = index
                return
            } catch {
                if count > 1 {
                    logger.warning("AMQP node unavailable; trying the next", metadata: ["amqp.node": "\(configuration.endpoints[index])", "error": "\(error)"])
                }
                failure = error
            }
        }
        throw failure
    }

    func connect(to index: Int) throws(AMQPError) {
        let endpoint = configuration.endpoints[index]
        guard let newState = amqp_new_connection() else {
            throw .library(operation: "amqp_new_connection", reason: "out of memory")
        }
        var handshake = timeval(configuration.connectTimeout)
        var rpc = timeval(configuration.rpcTimeout)
        _ = amqp_set_handshake_timeout(newState, &handshake)
        _ = amqp_set_rpc_timeout(newState, &rpc)
        let socket: OpaquePointer
        do {
            socket = try makeSocket(newState)
        } catch {
            amqp_destroy_connection(newState)
            throw error
        }
        var connectTimeout = timeval(configuration.connectTimeout)
        CRabbitMQShims_tls_clear_verify_error()
        let opened = amqp_socket_open_noblock(socket, endpoint.host, Int32(endpoint.port), &connectTimeout)
        guard opened == AMQP_STATUS_OK.rawValue else {
            amqp_destroy_connection(newState)
            throw .connectFailed(host: endpoint.host, port: endpoint.port, reason: Self.openFailure(opened, host: endpoint.host))
        }
        let arena = CArena()
        defer { withExtendedLifetime(arena) {} }
        // Capabilities replace librabbitmq's default table, so its own one is repeated here;
        // connection.blocked asks the broker to say when an alarm blocks this connection.
        var properties = arena.table([
            "connection_name": .string(configuration.connectionName ?? "swift-amqp"),
            "capabilities": .table(["authentication_failure_close": .bool(true), "connection.blocked": .bool(true)]),
        ])
        let login = CRabbitMQShims_login_plain(
            newState, configuration.virtualHost, 0, 131072, Int32(configuration.heartbeatSeconds),
            &properties, configuration.username, configuration.password)
        guard login.reply_type == AMQP_RESPONSE_NORMAL else {
            let reason = describe(login)
            amqp_destroy_connection(newState)
            if login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && login.library_error == AMQP_STATUS_SOCKET_CLOSED.rawValue {
                throw .loginFailed(reason: "the broker closed the connection during login (wrong user name or password?)")
            }
            if configuration.tls != nil && login.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && login.library_error == AMQP_STATUS_SSL_ERROR.rawValue {
                // With TLS 1.3 a server that refuses the client's certificate (or the lack of
                // one) says so after the handshake, at the first read.
                throw .loginFailed(reason: "TLS: the broker ended the session during login (does it require a client certificate, or refuse this one?)")
            }
            throw .loginFailed(reason: reason)
        }
        phase = .connected(newState)
        lastHousekeeping = .now
        connection.noteBlocked(nil)
        do {
            try openChannel()
            for item in topology.items { try declare(item) }
            for (tag, consumer) in consumers { try subscribe(tag: tag, queue: consumer.queue, prefetch: consumer.prefetch) }
        } catch {
            if state != nil { dropConnection(reason: "\(error)") }
            throw error
        }
        logger.debug("AMQP connected", metadata: ["amqp.url": "\(configuration.redactedURL)"])
    }

    func openChannel() throws(AMQPError) {
        guard let state else { throw .connectionLost(reason: "not connected") }
        amqp_channel_open(state, channel)
        try check("channel.open")
        amqp_confirm_select(state, channel)
        try check("confirm.select")
        connection.ledger.withLock { $0.newChannel() }
        confirms.restartNumbering()
    }

    /// Interprets the reply of the synchronous call just made. A channel or connection closed by
    /// the broker is answered and recovered here, then reported to the caller.
    func check(_ operation: String) throws(AMQPError) {
        guard let state else { throw .connectionLost(reason: "not connected") }
        let reply = amqp_get_rpc_reply(state)
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION where reply.reply.id == CRabbitMQShims_CHANNEL_CLOSE:
            let close = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            let code = close.reply_code
            let text = close.reply_text.string
            channelClosedByServer(code: code, text: text)
            throw .channelClosed(replyCode: code, replyText: text)
        case AMQP_RESPONSE_SERVER_EXCEPTION where reply.reply.id == CRabbitMQShims_CONNECTION_CLOSE:
            let close = reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            let code = close.reply_code
            let text = close.reply_text.string
            var ok = amqp_connection_close_ok_t(dummy: 0)
            _ = amqp_send_method(state, 0, CRabbitMQShims_CONNECTION_CLOSE_OK, &ok)
            connectionLost(reason: "closed by the broker: \(code) \(text)")
            throw .connectionClosed(replyCode: code, replyText: text)
        case AMQP_RESPONSE_LIBRARY_EXCEPTION where reply.library_error == AMQP_STATUS_TIMEOUT.rawValue:
            // A synchronous call that timed out leaves the connection mid-conversation.
            connectionLost(reason: "\(operation) timed out")
            throw .timeout(operation: operation)
        default:
            let reason = describe(reply)
            connectionLost(reason: "\(operation): \(reason)")
            throw .connectionLost(reason: reason)
        }
    }

    func describe(_ reply: amqp_rpc_reply_t) -> String {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL: return "ok"
        case AMQP_RESPONSE_NONE: return "no reply"
        case AMQP_RESPONSE_LIBRARY_EXCEPTION: return String(cString: amqp_error_string2(reply.library_error))
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if reply.reply.id == CRabbitMQShims_CONNECTION_CLOSE {
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                return "\(close.reply_code) \(close.reply_text.string)"
            }
            if reply.reply.id == CRabbitMQShims_CHANNEL_CLOSE {
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                return "\(close.reply_code) \(close.reply_text.string)"
            }
            return "server exception \(reply.reply.id)"
        default: return "unknown reply"
        }
    }
}

extension timeval {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
