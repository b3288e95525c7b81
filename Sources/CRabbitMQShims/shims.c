#include "CRabbitMQShims.h"

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
