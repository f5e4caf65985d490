/// Decides which tty devices are serial ports worth watching.
///
/// Kept: devices with real hardware behind them (`ttyS*`, `ttyUSB*`, `ttyACM*`, `ttyAMA*`,
/// `rfcomm*`, …). Skipped: everything under `/devices/virtual/` (virtual consoles `tty0`…`tty63`,
/// `console`, `ptmx`, `tty`, ptys), and 8250 ports the driver registered but found no UART for
/// (sysattr `type` is `0`, as for `ttyS1`…`ttyS31` on most PCs).
public enum SerialPortFilter {
    /// Whether a device with this `subsystem`, `devpath` and `type` sysattr is a serial port.
    public static func isSerialPort(subsystem: String?, devpath: String, portType: String?) -> Bool {
        guard subsystem == "tty" else { return false }
        guard !devpath.hasPrefix("/devices/virtual/") else { return false }
        if let portType, portType.trimmingWhitespace == "0" { return false }
        return true
    }
}

extension String {
    var trimmingWhitespace: Substring {
        let start = firstIndex { !$0.isWhitespace } ?? endIndex
        let end = lastIndex { !$0.isWhitespace }.map(index(after:)) ?? start
        return self[start..<end]
    }
}
