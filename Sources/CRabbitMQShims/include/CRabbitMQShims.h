#ifndef CRABBITMQSHIMS_H
#define CRABBITMQSHIMS_H

#if __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#else
#include <amqp.h>
#endif

/// librabbitmq-c only says that verifying the broker's certificate failed, not why. These record
/// the first reason OpenSSL gave (`certificate has expired`, `unable to get local issuer
/// certificate`, …) while the calling thread opens a TLS socket: install on the socket's
/// SSL_CTX (from `amqp_ssl_socket_get_context`), clear before opening, read after a failure.
void CRabbitMQShims_tls_record_verify_errors(void *ssl_ctx);
void CRabbitMQShims_tls_clear_verify_error(void);
/// The recorded reason, or an empty string; valid until the next call on this thread.
const char *CRabbitMQShims_tls_verify_error(void);

/// `amqp_login_with_properties` is variadic (the SASL method decides the extra arguments), and
/// Swift cannot call C variadic functions; this fixes the method to PLAIN.
amqp_rpc_reply_t CRabbitMQShims_login_plain(amqp_connection_state_t state,
                                            const char *vhost,
                                            int channel_max,
                                            int frame_max,
                                            int heartbeat,
                                            const amqp_table_t *client_properties,
                                            const char *username,
                                            const char *password);

/// The method ids are macros with a cast, `((amqp_method_number_t)0x…)`, which Swift does not
/// import; these constants carry the same values.
extern const amqp_method_number_t CRabbitMQShims_CHANNEL_CLOSE;
extern const amqp_method_number_t CRabbitMQShims_CHANNEL_CLOSE_OK;
extern const amqp_method_number_t CRabbitMQShims_CONNECTION_CLOSE;
extern const amqp_method_number_t CRabbitMQShims_CONNECTION_CLOSE_OK;
extern const amqp_method_number_t CRabbitMQShims_CONNECTION_BLOCKED;
extern const amqp_method_number_t CRabbitMQShims_CONNECTION_UNBLOCKED;
extern const amqp_method_number_t CRabbitMQShims_BASIC_DELIVER;
extern const amqp_method_number_t CRabbitMQShims_BASIC_ACK;
extern const amqp_method_number_t CRabbitMQShims_BASIC_NACK;
extern const amqp_method_number_t CRabbitMQShims_BASIC_RETURN;
extern const amqp_method_number_t CRabbitMQShims_BASIC_CANCEL;
extern const amqp_method_number_t CRabbitMQShims_BASIC_CANCEL_OK;

#endif
