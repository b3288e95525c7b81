import Foundation
import NIOFoundationCompat
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

struct SimulatedDrop: Error {}
