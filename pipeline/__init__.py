"""precheck: automated pre-review of organisation-employee UKey certificate applications."""

import os

__version__ = "0.1.0"

# A review runs on one core; cases run side by side in processes (workers, ``--jobs``). OpenCV's
# own thread pool (a thread a core) cost every review 5–8 % more CPU and made two reviews side by
# side contend for both cores (bench/throughput.py). Set before OpenCV is loaded, as OpenCV reads
# it then — never ``cv2.setNumThreads`` later: in a process forked from one whose pool ran, that
# waits for the pool's threads forever. Processes that load OpenCV first keep its default.
os.environ.setdefault("OPENCV_FOR_THREADS_NUM", "1")
