;; binary-trees (the Benchmarks Game allocation benchmark), on the uheap heap.
;; Usage: uheap-scheme --heap 8M binary-trees.scm DEPTH
;; A tree is a pair (left . right); the empty tree '() stands for a leaf node, so a tree of
;; depth d holds 2^d - 1 pairs and its check (which counts every node, leaves included) is
;; 2^(d+1) - 1, as in the reference output. Depth 16 fits an 8 MB heap: the stretch tree of
;; depth 17 is 131071 pairs of 32 bytes (4 MB), and the long-lived tree 2 MB beside whatever
;; tree is being checked.

(define (make-tree depth)
  (if (= depth 0)
      '()
      (cons (make-tree (- depth 1)) (make-tree (- depth 1)))))

(define (check tree)
  (if (null? tree)
      1
      (+ 1 (check (car tree)) (check (cdr tree)))))

(define min-depth 4)
(define max-depth
  (let ((args (command-line)))
    (max (+ min-depth 2) (if (pair? (cdr args)) (string->number (cadr args)) 10))))

(define (say . items) (for-each display items) (newline))

(let ((stretch (+ max-depth 1)))
  (say "stretch tree of depth " stretch "\t check: " (check (make-tree stretch))))

(define long-lived (make-tree max-depth))

(let loop ((depth min-depth))
  (when (<= depth max-depth)
    (let ((iterations (expt 2 (+ (- max-depth depth) min-depth))))
      (let count ((i 0) (sum 0))
        (if (< i iterations)
            (count (+ i 1) (+ sum (check (make-tree depth))))
            (say iterations "\t trees of depth " depth "\t check: " sum))))
    (loop (+ depth 2))))

(say "long lived tree of depth " max-depth "\t check: " (check long-lived))
