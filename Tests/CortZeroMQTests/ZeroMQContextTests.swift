import Testing
@testable import CortZeroMQ
