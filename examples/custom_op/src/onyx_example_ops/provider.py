"""A toy execution provider, found through the package's ``onyx.providers`` entry point.

It claims the standard ``Relu`` and ``Neg`` nodes and runs each of its partitions with NumPy on
the host: the smallest provider that shows partitions and fallback working from an installed
package (see onyx's docs/providers.md for the protocol).
"""

import numpy as np

from onyx.providers import ExecutionProvider

_OPS = {"Relu": lambda x: np.maximum(x, x.dtype.type(0)), "Neg": np.negative}


class ExampleExecutionProvider(ExecutionProvider):
    name = "ExampleExecutionProvider"

    def capability(self, graph, opset):
        return [n for n in graph.nodes if n.domain == "" and n.op_type in _OPS]

    def compile(self, partition, graph):
        steps = [(_OPS[n.op_type], n.inputs[0], n.outputs[0]) for n in partition.nodes]
        inputs, outputs = list(partition.inputs), list(partition.outputs)

        def run(*values):
            env = dict(zip(inputs, values))
            for op, source, target in steps:
                env[target] = op(env[source])
            return tuple(env[name] for name in outputs)

        return run
