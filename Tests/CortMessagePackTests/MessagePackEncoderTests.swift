import Testing
@testable import CortMessagePack
