#include "CRabbitMQShims.h"

#include <stdio.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

amqp_rpc_reply_t CRabbitMQShims_login_plain(amqp_connection_state_t state,
                                            const char *vhost,
                                            int channel_max,
                                            int frame_max,
                                            int heartbeat,
                                            const amqp_table_t *client_properties,
                                            const char *username,
                                            const char *password) {
  return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat,
                                    client_properties, AMQP_SASL_METHOD_PLAIN, username,
                                    password);
}

const amqp_method_number_t CRabbitMQShims_CHANNEL_CLOSE = AMQP_CHANNEL_CLOSE_METHOD;
const amqp_method_number_t CRabbitMQShims_CHANNEL_CLOSE_OK = AMQP_CHANNEL_CLOSE_OK_METHOD;
const amqp_method_number_t CRabbitMQShims_CONNECTION_CLOSE = AMQP_CONNECTION_CLOSE_METHOD;
const amqp_method_number_t CRabbitMQShims_CONNECTION_CLOSE_OK = AMQP_CONNECTION_CLOSE_OK_METHOD;
const amqp_method_number_t CRabbitMQShims_CONNECTION_BLOCKED = AMQP_CONNECTION_BLOCKED_METHOD;
const amqp_method_number_t CRabbitMQShims_CONNECTION_UNBLOCKED = AMQP_CONNECTION_UNBLOCKED_METHOD;
const amqp_method_number_t CRabbitMQShims_BASIC_DELIVER = AMQP_BASIC_DELIVER_METHOD;
const amqp_method_number_t CRabbitMQShims_BASIC_ACK = AMQP_BASIC_ACK_METHOD;
const amqp_method_number_t CRabbitMQShims_BASIC_NACK = AMQP_BASIC_NACK_METHOD;
const amqp_method_number_t CRabbitMQShims_BASIC_RETURN = AMQP_BASIC_RETURN_METHOD;
const amqp_method_number_t CRabbitMQShims_BASIC_CANCEL = AMQP_BASIC_CANCEL_METHOD;
const amqp_method_number_t CRabbitMQShims_BASIC_CANCEL_OK = AMQP_BASIC_CANCEL_OK_METHOD;

// The verify callback only records: it returns OpenSSL's own verdict, so librabbitmq-c decides
// exactly as before (it checks SSL_get_verify_result after the handshake).
static _Thread_local char tls_verify_error[160];

static int record_verify_error(int preverify_ok, X509_STORE_CTX *store) {
    if (!preverify_ok && tls_verify_error[0] == 0) {
        int depth = X509_STORE_CTX_get_error_depth(store);
        snprintf(tls_verify_error, sizeof tls_verify_error, "%s (certificate %d in the chain)",
                 X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)), depth);
    }
    return preverify_ok;
}

void CRabbitMQShims_tls_record_verify_errors(void *ssl_ctx) {
    SSL_CTX_set_verify((SSL_CTX *)ssl_ctx, SSL_VERIFY_NONE, record_verify_error);
}

void CRabbitMQShims_tls_clear_verify_error(void) { tls_verify_error[0] = 0; }

const char *CRabbitMQShims_tls_verify_error(void) { return tls_verify_error; }
