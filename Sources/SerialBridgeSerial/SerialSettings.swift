/// Line settings of a serial port: everything termios needs to talk to a device.
public struct SerialSettings: Sendable, Hashable {
    /// Parity bit mode.
    public enum Parity: String, Sendable, Hashable, CaseIterable {
        case none, even, odd
    }

    /// Flow control mode.
    public enum FlowControl: String, Sendable, Hashable, CaseIterable {
        case none
        case rtsCts = "rts-cts"
        case xonXoff = "xon-xoff"
    }

    /// Bits per second. Any positive integer; rates that termios has no `B` constant for are set
    /// through termios2 / BOTHER.
    public var baudRate: Int
    /// Data bits per character, 5 to 8.
    public var dataBits: Int
    /// Parity mode.
    public var parity: Parity
    /// Stop bits, 1 or 2.
    public var stopBits: Int
    /// Flow control.
    public var flowControl: FlowControl
    /// DTR line state to set after opening; nil leaves it as the driver set it.
    public var dtr: Bool?
    /// RTS line state to set after opening; nil leaves it (and RTS/CTS flow control drives it).
    public var rts: Bool?

    /// Creates settings; the defaults are the ubiquitous 9600 8N1 without flow control.
    public init(
        baudRate: Int = 9600,
        dataBits: Int = 8,
        parity: Parity = .none,
        stopBits: Int = 1,
        flowControl: FlowControl = .none,
        dtr: Bool? = nil,
        rts: Bool? = nil
    ) {
        self.baudRate = baudRate
        self.dataBits = dataBits
        self.parity = parity
        self.stopBits = stopBits
        self.flowControl = flowControl
        self.dtr = dtr
        self.rts = rts
    }
}

extension SerialSettings: CustomStringConvertible {
    /// The conventional short form, e.g. `9600 8N1`.
    public var description: String {
        let parityLetter: String
        switch parity {
        case .none: parityLetter = "N"
        case .even: parityLetter = "E"
        case .odd: parityLetter = "O"
        }
        let flow = flowControl == .none ? "" : " \(flowControl.rawValue)"
        return "\(baudRate) \(dataBits)\(parityLetter)\(stopBits)\(flow)"
    }
}
