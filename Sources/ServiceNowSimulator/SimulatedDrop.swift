import Foundation
import NIOFoundationCompat
import HTTPTypes
import HummingbirdCore
import HummingbirdTLS
import NIOSSL

struct SimulatedDrop: Error {}
