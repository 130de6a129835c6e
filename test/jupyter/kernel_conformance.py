"""jupyter_kernel_test's conformance suite against a wasm-repl kernel, started and reached through
jupyter-server's gateway kernel manager (gateway_kernel.py).

    python3 kernel_conformance.py URL TOKEN

Every sample is set, so no test of the suite is skipped for want of one; test_pager alone needs
IPython's pager, which a wasm-repl kernel does not have. test_input is added here: the suite has
no test of stdin.
"""
import sys
import unittest

import jupyter_kernel_test
from jupyter_client.utils import run_sync
from jupyter_kernel_test.msgspec_v5 import validate_message

from gateway_kernel import BlockingGatewayKernelClient, configure, kernel_manager

TIMEOUT = 30


class WasmReplKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "python3"
    language_name = "python"
    file_extension = ".py"

    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('oops', file=sys.stderr)"
    code_generate_error = "raise ValueError('expected')"
    code_execute_result = [{"code": "6 * 7", "result": "42"}, {"code": "'a' + 'b'", "result": "'ab'"}, {"code": "1 + 2 * 3", "result": "7"}]
    code_history_pattern = "6 ?*"
    supported_history_operations = ("tail", "range", "search")
    code_display_data = [{"code": "from IPython.display import HTML, display\ndisplay(HTML('<b>bold</b>'))", "mime": "text/html"}]
    code_clear_output = "from IPython.display import clear_output\nclear_output()"
    completion_samples = [{"text": "pri", "matches": {"print"}}, {"text": "str.spl", "matches": {"str.split", "str.splitlines"}}]
    complete_code_samples = ["1", "print('hello, world')", "def f(x):\n  return x*2\n\n\n"]
    incomplete_code_samples = ["print('''hello", "def f(x):\n  x*2", "for i in range(3):"]
    invalid_code_samples = ["import = 7q", "(1 +* 2)"]
    code_inspect_sample = "zip"

    @classmethod
    def setUpClass(cls):
        cls.km = kernel_manager(BlockingGatewayKernelClient)
        run_sync(cls.km.start_kernel)()
        cls.kc = cls.km.client()
        cls.kc.start_channels()
        cls.kc.wait_for_ready(timeout=TIMEOUT)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        run_sync(cls.km.shutdown_kernel)()

    def test_input(self):
        # input() asks the client on stdin, blocks the cell until the answer, and returns it.
        self.flush_channels()
        msg_id = self.kc.execute("name = input('who? ')\nprint('hello,', name)", allow_stdin=True)
        request = self.kc.get_stdin_msg(timeout=TIMEOUT)
        # The suite's schema types `password` as a number, which the boolean every kernel sends is
        # not (JSON Schema keeps the two apart): the rest of the message is checked by it.
        validate_message({**request, "content": {**request["content"], "password": int(request["content"]["password"])}}, "input_request", msg_id)
        self.assertEqual(request["parent_header"]["msg_id"], msg_id)
        self.assertEqual(request["content"]["prompt"], "who? ")
        self.assertIs(request["content"]["password"], False)
        self.kc.input("wasm")
        reply = self.get_non_kernel_info_reply(timeout=TIMEOUT)
        validate_message(reply, "execute_reply", msg_id)
        self.assertEqual(reply["content"]["status"], "ok")
        outputs = []
        while True:
            message = run_sync(self.kc.iopub_channel.get_msg)(timeout=TIMEOUT)
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            validate_message(message, message["msg_type"], msg_id)
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                break
            outputs.append(message)
        self.assertIn("hello, wasm\n", [m["content"]["text"] for m in outputs if m["msg_type"] == "stream"])


if __name__ == "__main__":
    configure(sys.argv[1], sys.argv[2])
    program = unittest.main(argv=[sys.argv[0], "-v"], exit=False)
    result = program.result
    # Said on stdout, for the caller to check that nothing else was skipped.
    for test, reason in result.skipped:
        print(f"skipped: {test.id()}: {reason}")
    sys.exit(0 if result.wasSuccessful() else 1)
