internal import CZeroMQ
