import SerialBridgeParsing

/// The read requests that fetch a register map, adjacent registers merged: one request per run
/// of registers in the same table whose gaps are at most ``maxGap`` and whose span fits
/// ``maxCount``.
public struct ModbusReadPlan: Sendable, Hashable {
    /// One read request and the registers it carries.
    public struct Block: Sendable, Hashable {
        /// Register table (function 3 or 4).
        public var table: ModbusRegister.Table
        /// First register address.
        public var address: Int
        /// Registers asked for.
        public var count: Int
        /// Indices into the plan's registers of the values this block carries.
        public var registers: [Int]
    }

    /// The register map, in profile order.
    public let registers: [ModbusRegister]
    /// The requests, in address order per table (holding first).
    public let blocks: [Block]
    /// For each output value, the index of its register (skipped registers are read, not reported).
    public let outputRegisters: [Int]

    /// Plans the reads of `registers`.
    public init(registers: [ModbusRegister], maxCount: Int = ModbusRTU.maxReadCount, maxGap: Int = 0) {
        self.registers = registers
        outputRegisters = registers.indices.filter { !registers[$0].field.skip }
        var blocks: [Block] = []
        for table in ModbusRegister.Table.allCases {
            let ordered = registers.indices.filter { registers[$0].table == table }
                .sorted { (registers[$0].address, $0) < (registers[$1].address, $1) }
            var current: Block?
            for index in ordered {
                let register = registers[index]
                let end = register.address + register.type.words
                if var block = current {
                    let blockEnd = block.address + block.count
                    if register.address <= blockEnd + maxGap, max(blockEnd, end) - block.address <= maxCount {
                        block.count = max(blockEnd, end) - block.address
                        block.registers.append(index)
                        current = block
                        continue
                    }
                    blocks.append(block)
                }
                current = Block(table: table, address: register.address, count: register.type.words, registers: [index])
            }
            if let current { blocks.append(current) }
        }
        self.blocks = blocks
    }

    /// The output fields (name and unit), in order.
    public var outputFields: [OutputField] {
        outputRegisters.map { OutputField(name: registers[$0].field.name, unit: registers[$0].field.unit) }
    }

    /// The request bytes of each block for `unit`.
    public func requests(unit: UInt8) -> [[UInt8]] {
        blocks.map { block in
            ModbusRTU.readRequest(
                unit: unit, function: block.table.readFunction,
                address: UInt16(block.address), count: UInt16(block.count)
            )
        }
    }

    /// The reading made of every block's words (`words[i]` answers `blocks[i]`).
    /// - Returns: nil when a block's answer has the wrong number of words.
    public func reading(from words: [[UInt16]], counters: inout ParserCounters) -> ParsedReading? {
        guard words.count == blocks.count else { return nil }
        var values = [Value?](repeating: nil, count: registers.count)
        for (block, answer) in zip(blocks, words) {
            guard answer.count == block.count else { return nil }
            for index in block.registers {
                let register = registers[index]
                let start = register.address - block.address
                values[index] = register.decode(answer[start..<start + register.type.words])
            }
        }
        var output: [Value?] = []
        var flagged: [String] = []
        output.reserveCapacity(outputRegisters.count)
        for index in outputRegisters {
            guard let raw = values[index] else {
                output.append(nil)
                continue
            }
            let (value, outOfRange) = registers[index].field.finish(raw)
            if outOfRange {
                flagged.append(registers[index].field.name)
                counters.outOfRange &+= 1
            }
            output.append(value)
        }
        counters.readings &+= 1
        return ParsedReading(values: output, outOfRange: flagged, offset: 0)
    }
}
