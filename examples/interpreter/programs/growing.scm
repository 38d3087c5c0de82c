;; growing: a vector grown one slot at a time versus grown by doubling versus preallocated, and a
;; list built by appending at the end versus consing and reversing once. Allocation counts and
;; bytes come from the heap's counters (gc-stats).
(define (say . items) (for-each display items) (newline))

(define (measure thunk)
  (let* ((before (gc-stats))
         (result (thunk))
         (after (gc-stats)))
    (list result (- (car after) (car before)) (- (cadr after) (cadr before)))))

(define (report name m)
  (say name (cadr m) " allocations, " (caddr m) " bytes"))

(define n 300)

;; Vectors: (vector-grow v k) returns a new vector of length k holding v's elements.
(define (grow-by-one)
  (let loop ((i 0) (v (make-vector 0)))
    (if (< i n)
        (let ((bigger (vector-grow v (+ i 1))))
          (vector-set! bigger i i)
          (loop (+ i 1) bigger))
        v)))

(define (grow-by-doubling)
  (let loop ((i 0) (v (make-vector 1)))
    (if (< i n)
        (let ((room (if (< i (vector-length v)) v (vector-grow v (* 2 (vector-length v))))))
          (vector-set! room i i)
          (loop (+ i 1) room))
        v)))

(define (preallocated)
  (let ((v (make-vector n)))
    (let loop ((i 0))
      (when (< i n)
        (vector-set! v i i)
        (loop (+ i 1))))
    v))

(define one (measure grow-by-one))
(define doubling (measure grow-by-doubling))
(define pre (measure preallocated))
(say "vectors hold the same numbers: "
     (and (equal? (car one) (car pre)) (= (vector-ref (car doubling) (- n 1)) (- n 1))))
(report "vector grown by one:      " one)
(report "vector grown by doubling: " doubling)
(report "vector preallocated:      " pre)

;; Lists: appending copies the whole list each time; consing then reversing copies it once.
(define (append-at-end)
  (let loop ((i 0) (lst '()))
    (if (< i n) (loop (+ i 1) (append lst (list i))) lst)))

(define (cons-then-reverse)
  (let loop ((i 0) (lst '()))
    (if (< i n) (loop (+ i 1) (cons i lst)) (reverse lst))))

(define appended (measure append-at-end))
(define consed (measure cons-then-reverse))
(say "lists are equal: " (equal? (car appended) (car consed)))
(report "list by append at end:    " appended)
(report "list by cons and reverse: " consed)
(say "preallocating beats growing by one: " (< (caddr pre) (caddr one)))
